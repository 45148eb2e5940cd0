/* YAML → jansson: libyaml's event stream folded into trees, one per document,
 * with go-yaml's YAML 1.1 scalar typing (see yaml.h). */
#include "kube/yaml.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
	json_t *node;	      /* owned: the object or array being filled */
	json_t *seen;	      /* owned, mappings: keys given explicitly (dup check) */
	char *key;	      /* owned, mappings: the key waiting for its value */
	yaml_mark_t key_mark; /* where that key is, for errors about it */
	bool merge;	      /* the waiting key is the merge key "<<" */
	char *anchor;	      /* owned: registered once the node is complete */
};

struct loader {
	yaml_parser_t parser;
	yaml_event_t ev;
	struct frame stack[WARD_YAML_MAX_DEPTH];
	size_t depth;
	json_t *root;	 /* owned: the current document's value */
	json_t *anchors; /* owned: anchor name → node, per document */
	json_t *docs;	 /* owned until returned */
	size_t nodes;
	unsigned doc;
};

static int fail_at(struct loader *l, const yaml_mark_t *at, const char *why, const char *what)
{
	return ward_err_set(WARD_ERR_INVALID, "document %u: line %zu column %zu: %s%s", l->doc,
			    at->line + 1, at->column + 1, why, what);
}

static int fail(struct loader *l, const char *why, const char *what)
{
	return fail_at(l, &l->ev.start_mark, why, what);
}

/* fail() with the reason a helper recorded (copied: it is the same buffer). */
static int fail_with_reason(struct loader *l)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", ward_err_msg());
	return fail(l, why, "");
}

static bool tag_is(const char *tag, const char *name)
{
	static const char prefix[] = "tag:yaml.org,2002:";

	return !strncmp(tag, prefix, sizeof(prefix) - 1) && !strcmp(tag + sizeof(prefix) - 1, name);
}

/* A scalar event's value: quoted and !!str scalars are strings, !!int and
 * friends must resolve to their type, unknown tags are ignored (as go-yaml
 * does when it decodes into untyped values). */
static int scalar_value(struct loader *l, json_t **out)
{
	const char *text = (const char *)l->ev.data.scalar.value;
	size_t len = l->ev.data.scalar.length;
	const char *tag = (const char *)l->ev.data.scalar.tag;
	bool quoted = l->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	json_t *v;

	if (tag && (!strcmp(tag, "!") || tag_is(tag, "str") || tag_is(tag, "binary")))
		quoted = true;
	v = quoted ? json_stringn(text, len) : ward_yaml_resolve_plain(text, len);
	if (!v)
		return quoted ? ward_err_set(WARD_ERR_NOMEM, "scalar") : fail_with_reason(l);
	if (tag && ((tag_is(tag, "int") && !json_is_integer(v)) ||
		    (tag_is(tag, "float") && !json_is_number(v)) ||
		    (tag_is(tag, "bool") && !json_is_boolean(v)) ||
		    (tag_is(tag, "null") && !json_is_null(v)))) {
		json_decref(v);
		return fail(l, "value does not match its tag ", tag);
	}
	*out = v;
	return 0;
}

/* A mapping key as JSON sees it: sigs.k8s.io/yaml prints non-string keys
 * (8080:, true:) as their value's text. */
static int scalar_key(struct loader *l, char **out)
{
	const char *text = (const char *)l->ev.data.scalar.value;
	size_t len = l->ev.data.scalar.length;
	char num[64];
	json_t *v;

	if (l->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE || l->ev.data.scalar.tag) {
		*out = strndup(text, len);
	} else {
		if (!(v = ward_yaml_resolve_plain(text, len)))
			return fail_with_reason(l);
		if (json_is_string(v))
			*out = strndup(text, len);
		else if (json_is_integer(v))
			*out =
			    (snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v)),
			     strdup(num));
		else if (json_is_real(v))
			*out = (ward_yaml_format_real(json_real_value(v), num, sizeof(num)),
				strdup(num));
		else
			*out = strdup(json_is_null(v)	? "null"
				      : json_is_true(v) ? "true"
							: "false");
		json_decref(v);
	}
	if (!*out)
		return ward_err_set(WARD_ERR_NOMEM, "key");
	if (memchr(text, '\0', len))
		return fail(l, "a mapping key holds a NUL byte", "");
	return 0;
}

static size_t count_nodes(json_t *v)
{
	size_t n = 1, i;
	const char *k;
	json_t *c;

	if (json_is_object(v))
		json_object_foreach(v, k, c) n += count_nodes(c);
	else if (json_is_array(v))
		json_array_foreach(v, i, c) n += count_nodes(c);
	return n;
}

static int spend(struct loader *l, size_t n)
{
	if (n > WARD_YAML_MAX_NODES - l->nodes)
		return fail(l, "the document expands to too many nodes (alias bomb?)", "");
	l->nodes += n;
	return 0;
}

/* "<<: *base" or "<<: [*a, *b]": keys not already present are copied in;
 * explicit keys win wherever they appear, earlier merges win over later. */
static int merge_into(struct loader *l, json_t *obj, json_t *src)
{
	const char *k;
	json_t *c;
	size_t i;

	if (json_is_array(src)) {
		json_array_foreach(src, i, c) GUARD(merge_into(l, obj, c));
		return 0;
	}
	if (!json_is_object(src))
		return fail(l, "the merge key << needs a mapping or a list of mappings", "");
	json_object_foreach(src, k, c)
	{
		if (!json_object_get(obj, k) && json_object_set(obj, k, c) < 0)
			return ward_err_set(WARD_ERR_NOMEM, "merge");
	}
	return 0;
}

/* Places a finished value (owned) under the innermost open container. */
static int add_value(struct loader *l, json_t *v)
{
	struct frame *f = l->depth ? &l->stack[l->depth - 1] : NULL;
	int rc = 0;

	if (!f) {
		l->root = v;
		return 0;
	}
	if (json_is_array(f->node))
		return json_array_append_new(f->node, v) < 0 ? ward_err_set(WARD_ERR_NOMEM, "list")
							     : 0;
	if (f->merge)
		rc = merge_into(l, f->node, v);
	else if (json_object_get(f->seen, f->key))
		rc = fail_at(l, &f->key_mark, "duplicate key ", f->key);
	else if (json_object_set(f->seen, f->key, json_true()) < 0 ||
		 json_object_set(f->node, f->key, v) < 0)
		rc = ward_err_set(WARD_ERR_NOMEM, "mapping");
	json_decref(v);
	free(f->key);
	f->key = NULL;
	f->merge = false;
	return rc;
}

static bool wants_key(const struct loader *l)
{
	const struct frame *f = l->depth ? &l->stack[l->depth - 1] : NULL;

	return f && json_is_object(f->node) && !f->key;
}

static int remember(struct loader *l, const yaml_char_t *anchor, json_t *v)
{
	if (anchor && json_object_set(l->anchors, (const char *)anchor, v) < 0)
		return ward_err_set(WARD_ERR_NOMEM, "anchor");
	return 0;
}

static int on_scalar(struct loader *l)
{
	struct frame *f = &l->stack[l->depth ? l->depth - 1 : 0];
	json_t *v = NULL;

	GUARD(spend(l, 1));
	if (wants_key(l)) {
		GUARD(scalar_key(l, &f->key));
		f->key_mark = l->ev.start_mark;
		f->merge =
		    l->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strcmp(f->key, "<<");
		return 0;
	}
	GUARD(scalar_value(l, &v));
	if (remember(l, l->ev.data.scalar.anchor, v) < 0) {
		json_decref(v);
		return WARD_ERR_NOMEM;
	}
	return add_value(l, v);
}

static int on_alias(struct loader *l)
{
	const char *name = (const char *)l->ev.data.alias.anchor;
	json_t *target = json_object_get(l->anchors, name), *copy;
	struct frame *f = &l->stack[l->depth ? l->depth - 1 : 0];

	if (!target)
		return fail(l, "unknown or recursive alias *", name);
	if (wants_key(l)) {
		if (!json_is_string(target))
			return fail(l, "an alias used as a key must name a string: *", name);
		f->key = strdup(json_string_value(target));
		f->key_mark = l->ev.start_mark;
		return f->key ? 0 : ward_err_set(WARD_ERR_NOMEM, "key");
	}
	GUARD(spend(l, count_nodes(target)));
	/* A copy: the tree is mutated later, and one edit must not show twice. */
	if (!(copy = json_deep_copy(target)))
		return ward_err_set(WARD_ERR_NOMEM, "alias");
	return add_value(l, copy);
}

static int on_start(struct loader *l, bool mapping)
{
	const yaml_char_t *anchor =
	    mapping ? l->ev.data.mapping_start.anchor : l->ev.data.sequence_start.anchor;
	struct frame *f;

	if (wants_key(l))
		return fail(l, "a mapping key must be a scalar", "");
	if (l->depth == WARD_YAML_MAX_DEPTH)
		return fail(l, "nested too deeply", "");
	GUARD(spend(l, 1));
	f = &l->stack[l->depth++];
	memset(f, 0, sizeof(*f));
	f->node = mapping ? json_object() : json_array();
	f->seen = mapping ? json_object() : NULL;
	f->anchor = anchor ? strdup((const char *)anchor) : NULL;
	if (!f->node || (mapping && !f->seen) || (anchor && !f->anchor))
		return ward_err_set(WARD_ERR_NOMEM, "node");
	return 0;
}

static void frame_free(struct frame *f)
{
	json_decref(f->node);
	json_decref(f->seen);
	free(f->key);
	free(f->anchor);
	memset(f, 0, sizeof(*f));
}

static int on_end(struct loader *l)
{
	struct frame *f = &l->stack[l->depth - 1];
	json_t *node = json_incref(f->node);
	int rc;

	rc = remember(l, (const yaml_char_t *)f->anchor, node);
	frame_free(f);
	l->depth--;
	if (rc < 0) {
		json_decref(node);
		return rc;
	}
	return add_value(l, node);
}

static int on_document(struct loader *l, bool start)
{
	if (start) {
		l->doc++;
		json_object_clear(l->anchors);
		return 0;
	}
	if (l->root && json_array_append_new(l->docs, l->root) < 0) {
		l->root = NULL;
		return ward_err_set(WARD_ERR_NOMEM, "documents");
	}
	l->root = NULL;
	return 0;
}

static int on_event(struct loader *l)
{
	switch (l->ev.type) {
	case YAML_DOCUMENT_START_EVENT:
		return on_document(l, true);
	case YAML_DOCUMENT_END_EVENT:
		return on_document(l, false);
	case YAML_SCALAR_EVENT:
		return on_scalar(l);
	case YAML_ALIAS_EVENT:
		return on_alias(l);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(l, false);
	case YAML_MAPPING_START_EVENT:
		return on_start(l, true);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(l);
	default:
		return 0;
	}
}

static int parse_error(struct loader *l)
{
	const yaml_parser_t *p = &l->parser;

	if (p->error == YAML_MEMORY_ERROR)
		return ward_err_set(WARD_ERR_NOMEM, "yaml parser");
	return ward_err_set(WARD_ERR_INVALID, "document %u: line %zu column %zu: %s%s%s",
			    l->doc ? l->doc : 1, p->problem_mark.line + 1,
			    p->problem_mark.column + 1, p->problem ? p->problem : "not YAML",
			    p->context ? " " : "", p->context ? p->context : "");
}

int ward_yaml_load(const char *data, size_t len, json_t **docs)
{
	struct loader *l = calloc(1, sizeof(*l));
	bool done = false;
	int rc = 0;

	if (!l)
		return ward_err_set(WARD_ERR_NOMEM, "yaml loader");
	l->anchors = json_object();
	l->docs = json_array();
	if (!l->anchors || !l->docs || !yaml_parser_initialize(&l->parser)) {
		rc = ward_err_set(WARD_ERR_NOMEM, "yaml loader");
		goto out;
	}
	/* libyaml asserts on a NULL input, even an empty one. */
	yaml_parser_set_input_string(&l->parser, (const unsigned char *)(data ? data : ""), len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&l->parser, &l->ev)) {
			rc = parse_error(l);
			break;
		}
		done = l->ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(l);
		yaml_event_delete(&l->ev);
	}
	yaml_parser_delete(&l->parser);
	if (rc == 0) {
		*docs = l->docs;
		l->docs = NULL;
	}
out:
	while (l->depth)
		frame_free(&l->stack[--l->depth]);
	json_decref(l->root);
	json_decref(l->anchors);
	json_decref(l->docs);
	free(l);
	return rc;
}
