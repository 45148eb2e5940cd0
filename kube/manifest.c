/* Manifest streams in and out: format detection, JSON streams with jansson,
 * YAML through kube/yaml.h, and whole-file reads and atomic writes. */
#include "kube/manifest.h"

#include "lib/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/yaml.h"

static size_t skip_blank(const char *data, size_t len, size_t at)
{
	while (at < len && strchr(" \t\r\n", data[at]) && data[at])
		at++;
	return at;
}

static unsigned lines_before(const char *data, size_t at)
{
	unsigned n = 0;

	for (size_t i = 0; i < at; i++)
		n += data[i] == '\n';
	return n;
}

/* Objects one after the other; each must be an object (a Kubernetes
 * object or a List), not a bare array or scalar. */
static int parse_json_stream(const char *data, size_t len, json_t *docs)
{
	size_t at = skip_blank(data, len, 0);
	unsigned n = 0;

	while (at < len) {
		json_error_t err;
		json_t *doc;

		n++;
		ENSURE(data[at] == '{', WARD_ERR_INVALID,
		       "document %u: line %u: a JSON document must be an object", n,
		       lines_before(data, at) + 1);
		doc = json_loadb(data + at, len - at,
				 JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &err);
		ENSURE(doc, WARD_ERR_INVALID, "document %u: line %u column %d: %s", n,
		       lines_before(data, at) + (unsigned)err.line, err.column, err.text);
		if (json_array_append_new(docs, doc) < 0)
			return ward_err_set(WARD_ERR_NOMEM, "documents");
		at = skip_blank(data, len, at + (size_t)err.position);
	}
	return 0;
}

int ward_manifest_parse(const char *data, size_t len, struct ward_manifest *m)
{
	size_t first = skip_blank(data, len, 0);
	json_t *docs;
	int rc;

	ENSURE(len == 0 || !memchr(data, '\0', len), WARD_ERR_INVALID,
	       "input holds a NUL byte: neither YAML nor JSON");
	if (first < len && data[first] == '{') {
		if (!(docs = json_array()))
			return ward_err_set(WARD_ERR_NOMEM, "documents");
		if ((rc = parse_json_stream(data, len, docs)) < 0) {
			json_decref(docs);
			return rc;
		}
		m->format = WARD_MANIFEST_JSON;
	} else {
		GUARD(ward_yaml_load(data, len, &docs));
		m->format = WARD_MANIFEST_YAML;
	}
	m->docs = docs;
	return 0;
}

static int render_json(json_t *docs, struct ward_buf *out)
{
	json_t *doc;
	size_t i;

	json_array_foreach(docs, i, doc)
	{
		char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		int rc;

		if (!text)
			return ward_err_set(WARD_ERR_NOMEM, "json output");
		rc = ward_buf_append(out, text, strlen(text));
		free(text);
		GUARD(rc);
		GUARD(ward_buf_append(out, "\n", 1));
	}
	return 0;
}

int ward_manifest_render(const struct ward_manifest *m, struct ward_buf *out)
{
	if (m->format == WARD_MANIFEST_JSON)
		return render_json(m->docs, out);
	return ward_yaml_dump(m->docs, out);
}

void ward_manifest_free(struct ward_manifest *m)
{
	json_decref(m->docs);
	m->docs = NULL;
}

static int read_fd(int fd, const char *name, char **data, size_t *len)
{
	struct ward_buf b;
	char chunk[65536];
	ssize_t n;

	ward_buf_init(&b, WARD_MANIFEST_MAX_BYTES);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || ward_buf_append(&b, chunk, (size_t)n) < 0) {
			ward_buf_drop(&b);
			return n < 0 ? ward_err_set(WARD_ERR_IO, "%s: %s", name, strerror(errno))
				     : ward_err_prefix(WARD_ERR_RANGE, "%s", name);
		}
	}
	*len = ward_buf_len(&b);
	if (ward_buf_append(&b, "", 1) < 0) {
		ward_buf_drop(&b);
		return ward_err_prefix(WARD_ERR_RANGE, "%s", name);
	}
	*data = (char *)ward_buf_detach(&b, &(size_t){0});
	return 0;
}

int ward_manifest_slurp(const char *path, char **data, size_t *len)
{
	int fd, rc;

	if (!strcmp(path, "-"))
		return read_fd(0, "stdin", data, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ENSURE(fd >= 0, WARD_ERR_IO, "%s: %s", path, strerror(errno));
	rc = read_fd(fd, path, data, len);
	close(fd);
	return rc;
}

int ward_manifest_write_out(const char *path, const void *bytes, size_t len)
{
	if (!strcmp(path, "-")) {
		ENSURE(ward_file_write_all(1, bytes, len) == 0, WARD_ERR_IO, "stdout: %s",
		       strerror(errno));
		return 0;
	}
	return ward_file_write_atomic(path, bytes, len, 0644);
}
