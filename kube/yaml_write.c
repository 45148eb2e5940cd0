/* jansson → YAML through libyaml's emitter: block style, two-space indent,
 * and every string quoted that a Kubernetes reader would otherwise re-type. */
#include "kube/yaml.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static int on_output(void *data, unsigned char *bytes, size_t size)
{
	return ward_buf_append(data, bytes, size) == 0;
}

static int emit(yaml_emitter_t *em, yaml_event_t *ev)
{
	/* yaml_emitter_emit takes the event even when it fails. */
	if (yaml_emitter_emit(em, ev))
		return 0;
	return ward_err_set(em->error == YAML_MEMORY_ERROR ? WARD_ERR_NOMEM : WARD_ERR_INVALID,
			    "yaml emitter: %s", em->problem ? em->problem : "output too large");
}

/* Plain when a reader would read the same string back, double-quoted when it
 * would see null, a bool or a number, literal block for multi-line text. */
static yaml_scalar_style_t string_style(const char *s, size_t len)
{
	json_t *as_plain;
	bool retyped;

	if (memchr(s, '\n', len))
		return YAML_LITERAL_SCALAR_STYLE;
	as_plain = ward_yaml_resolve_plain(s, len);
	retyped = !json_is_string(as_plain);
	json_decref(as_plain);
	return retyped ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, size_t len, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style))
		return ward_err_set(WARD_ERR_NOMEM, "yaml scalar");
	return emit(em, &ev);
}

static int emit_string(yaml_emitter_t *em, const char *s, size_t len)
{
	return emit_scalar(em, s, len, string_style(s, len));
}

static int emit_value(yaml_emitter_t *em, json_t *v);

static int emit_mapping(yaml_emitter_t *em, json_t *obj)
{
	yaml_event_t ev;
	const char *k;
	json_t *c;

	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
		return ward_err_set(WARD_ERR_NOMEM, "yaml mapping");
	GUARD(emit(em, &ev));
	json_object_foreach(obj, k, c)
	{
		GUARD(emit_string(em, k, strlen(k)));
		GUARD(emit_value(em, c));
	}
	yaml_mapping_end_event_initialize(&ev);
	return emit(em, &ev);
}

static int emit_sequence(yaml_emitter_t *em, json_t *arr)
{
	yaml_event_t ev;
	json_t *c;
	size_t i;

	if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))
		return ward_err_set(WARD_ERR_NOMEM, "yaml sequence");
	GUARD(emit(em, &ev));
	json_array_foreach(arr, i, c) GUARD(emit_value(em, c));
	yaml_sequence_end_event_initialize(&ev);
	return emit(em, &ev);
}

static int emit_value(yaml_emitter_t *em, json_t *v)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return emit_mapping(em, v);
	case JSON_ARRAY:
		return emit_sequence(em, v);
	case JSON_STRING:
		return emit_string(em, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		ward_yaml_format_real(json_real_value(v), num, sizeof(num));
		break;
	case JSON_TRUE:
		strcpy(num, "true");
		break;
	case JSON_FALSE:
		strcpy(num, "false");
		break;
	default:
		strcpy(num, "null");
		break;
	}
	return emit_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
}

static int emit_stream(yaml_emitter_t *em, json_t *docs)
{
	yaml_event_t ev;
	json_t *doc;
	size_t i;

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	GUARD(emit(em, &ev));
	json_array_foreach(docs, i, doc)
	{
		if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, i == 0))
			return ward_err_set(WARD_ERR_NOMEM, "yaml document");
		GUARD(emit(em, &ev));
		GUARD(emit_value(em, doc));
		yaml_document_end_event_initialize(&ev, 1);
		GUARD(emit(em, &ev));
	}
	yaml_stream_end_event_initialize(&ev);
	return emit(em, &ev);
}

int ward_yaml_dump(json_t *docs, struct ward_buf *out)
{
	yaml_emitter_t em;
	int rc;

	if (!yaml_emitter_initialize(&em))
		return ward_err_set(WARD_ERR_NOMEM, "yaml emitter");
	yaml_emitter_set_output(&em, on_output, out);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_width(&em, -1);
	rc = emit_stream(&em, docs);
	if (rc == 0 && !yaml_emitter_flush(&em))
		rc = ward_err_set(WARD_ERR_RANGE, "yaml output too large");
	yaml_emitter_delete(&em);
	return rc;
}
