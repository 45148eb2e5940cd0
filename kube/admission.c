/* One admission review: validate the envelope, inject a copy of the pod,
 * diff it into a JSON Patch, and wrap the answer in a review. */
#include "kube/admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>

#include "kube/patch.h"

#define REVIEW_API "admission.k8s.io/v1"

static int set_text(struct ward_admission_reply *r, int status, const char *result,
		    const char *text)
{
	r->status = status;
	r->result = result;
	snprintf(r->reason, sizeof(r->reason), "%.*s", (int)sizeof(r->reason) - 1, text);
	if (status != 400)
		return 0;
	if (asprintf(&r->body, "admission review: %s\n", text) < 0) {
		r->body = NULL;
		return ward_err_set(WARD_ERR_NOMEM, "reply");
	}
	r->body_len = strlen(r->body);
	return 0;
}

/* Checks the envelope; *request and *object are borrowed from review. */
static int open_review(json_t *review, json_t **request, json_t **object)
{
	const char *api = json_string_value(json_object_get(review, "apiVersion"));
	const char *kind = json_string_value(json_object_get(review, "kind"));
	json_t *uid;

	ENSURE(json_is_object(review), WARD_ERR_INVALID, "the body is not a JSON object");
	ENSURE(api && !strcmp(api, REVIEW_API), WARD_ERR_INVALID,
	       "apiVersion: must be " REVIEW_API " (got %s)", api ? api : "nothing");
	ENSURE(kind && !strcmp(kind, "AdmissionReview"), WARD_ERR_INVALID,
	       "kind: must be AdmissionReview (got %s)", kind ? kind : "nothing");
	*request = json_object_get(review, "request");
	ENSURE(json_is_object(*request), WARD_ERR_INVALID, "request: required (an object)");
	uid = json_object_get(*request, "uid");
	ENSURE(json_is_string(uid) && json_string_length(uid) > 0, WARD_ERR_INVALID,
	       "request.uid: required (a non-empty string)");
	*object = json_object_get(*request, "object");
	ENSURE(json_is_object(*object) || json_is_null(*object) || !*object, WARD_ERR_INVALID,
	       "request.object: must be an object");
	return 0;
}

static char *base64(const char *in, size_t len)
{
	word32 out_len = (word32)((len + 2) / 3 * 4 + 1);
	char *out = malloc(out_len);

	if (!out || Base64_Encode_NoNl((const byte *)in, (word32)len, (byte *)out, &out_len) != 0) {
		free(out);
		return NULL;
	}
	out[out_len] = '\0';
	return out;
}

/* response.patch: the difference between the pod and its injected copy. */
static int add_patch(json_t *response, json_t *pod, json_t *injected)
{
	json_t *ops = json_array();
	char *text = NULL, *b64 = NULL;
	int rc;

	if (!ops)
		return ward_err_set(WARD_ERR_NOMEM, "patch");
	rc = ward_patch_diff(pod, injected, ops);
	if (rc == 0 &&
	    (!(text = json_dumps(ops, JSON_COMPACT)) || !(b64 = base64(text, strlen(text)))))
		rc = ward_err_set(WARD_ERR_NOMEM, "patch");
	if (rc == 0 && (json_object_set_new(response, "patchType", json_string("JSONPatch")) < 0 ||
			json_object_set_new(response, "patch", json_string(b64)) < 0))
		rc = ward_err_set(WARD_ERR_NOMEM, "patch");
	free(b64);
	free(text);
	json_decref(ops);
	return rc;
}

/* Notes that start "warning:" reach the user through kubectl. */
static void add_warnings(json_t *response, json_t *notes, const char *label)
{
	json_t *warnings = json_array(), *n;
	size_t i, skip = strlen(label) + 2;

	json_array_foreach(notes, i, n)
	{
		const char *text = json_string_value(n);

		if (strlen(text) > skip && !strncmp(text + skip, "warning: ", 9))
			json_array_append_new(warnings, json_string(text + skip + 9));
	}
	if (json_array_size(warnings))
		json_object_set(response, "warnings", warnings);
	json_decref(warnings);
}

static void label_of(json_t *request, json_t *pod, char *out, size_t len)
{
	json_t *meta = json_object_get(pod, "metadata");
	const char *ns = json_string_value(json_object_get(request, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));

	if (!name)
		name = json_string_value(json_object_get(meta, "generateName"));
	snprintf(out, len, "Pod %s/%s", ns ? ns : "", name ? name : "unnamed");
}

/* Decides what to answer for a well-formed review (response is filled). */
static int decide(const struct ward_inject_opts *o, json_t *request, json_t *pod, json_t *response,
		  struct ward_admission_reply *r)
{
	const char *kind =
	    json_string_value(json_object_get(json_object_get(request, "kind"), "kind"));
	const char *operation = json_string_value(json_object_get(request, "operation"));
	json_t *copy, *notes;
	char label[256];
	int rc;

	if (!pod || json_is_null(pod) || !kind || strcmp(kind, "Pod") ||
	    (operation && strcmp(operation, "CREATE")))
		return set_text(r, 200, "skipped", "not the creation of a Pod");
	label_of(request, pod, label, sizeof(label));
	copy = json_deep_copy(pod);
	notes = json_array();
	if (!copy || !notes) {
		json_decref(copy);
		json_decref(notes);
		return ward_err_set(WARD_ERR_NOMEM, "review");
	}
	rc = ward_inject_template(o, WARD_INJECT, copy, "", label, notes);
	if (rc < 0 && rc != WARD_ERR_NOMEM) {
		char why[512];

		snprintf(why, sizeof(why), "ward: %s: %s", label, ward_err_msg());
		json_object_set_new(response, "allowed", json_false());
		json_object_set_new(response, "status",
				    json_pack("{s:i,s:s}", "code", 400, "message", why));
		rc = set_text(r, 200, "denied", why);
	} else if (rc == WARD_INJECT_UNCHANGED) {
		const char *note = json_string_value(json_array_get(notes, 0));

		rc = set_text(r, 200, "skipped", note ? note + strlen(label) + 2 : "nothing to do");
	} else if (rc == WARD_INJECT_CHANGED && (rc = add_patch(response, pod, copy)) == 0) {
		add_warnings(response, notes, label);
		rc = set_text(r, 200, "injected", label);
	}
	json_decref(copy);
	json_decref(notes);
	return rc;
}

int ward_admission_review(const struct ward_inject_opts *o, const char *body, size_t len,
			  struct ward_admission_reply *r)
{
	json_t *review, *request = NULL, *pod = NULL, *response, *out;
	json_error_t err;
	int rc;

	memset(r, 0, sizeof(*r));
	review = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (!review) {
		char why[200];

		snprintf(why, sizeof(why), "not JSON: line %d column %d: %s", err.line, err.column,
			 err.text);
		return set_text(r, 400, "malformed", why);
	}
	if (open_review(review, &request, &pod) < 0) {
		json_decref(review);
		return set_text(r, 400, "malformed", ward_err_msg());
	}
	response = json_pack("{s:O,s:b}", "uid", json_object_get(request, "uid"), "allowed", 1);
	rc = response ? decide(o, request, pod, response, r)
		      : ward_err_set(WARD_ERR_NOMEM, "review");
	out = rc == 0 ? json_pack("{s:s,s:s,s:O}", "apiVersion", REVIEW_API, "kind",
				  "AdmissionReview", "response", response)
		      : NULL;
	if (out && (r->body = json_dumps(out, JSON_COMPACT)))
		r->body_len = strlen(r->body);
	else if (rc == 0)
		rc = ward_err_set(WARD_ERR_NOMEM, "review");
	json_decref(out);
	json_decref(response);
	json_decref(review);
	return rc;
}

void ward_admission_reply_free(struct ward_admission_reply *r)
{
	free(r->body);
	r->body = NULL;
}
