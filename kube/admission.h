/* Kubernetes admission reviews (admission.k8s.io/v1): a review of a Pod in,
 * a review out that allows it, with a JSON Patch that makes it what `ward
 * inject` makes of it. Pure (no I/O), so tests drive it with documents. */
#ifndef WARD_KUBE_ADMISSION_H
#define WARD_KUBE_ADMISSION_H

#include <stddef.h>

#include "lib/err.h"
#include "kube/inject.h"

struct ward_admission_reply {
	int status; /* HTTP status: 200, or 400 for a review that is not one */
	char *body; /* malloc'd: the AdmissionReview (200) or the reason (400) */
	size_t body_len;
	/* For the log line: what happened and why. */
	const char *result; /* "injected", "skipped", "denied", "malformed" */
	char reason[256];
};

/* Answers one review. The reply is always filled (a 400 names the field
 * that was wrong); the return value is 0 or WARD_ERR_NOMEM. */
WARD_MUST_CHECK int ward_admission_review(const struct ward_inject_opts *o, const char *body,
					  size_t len, struct ward_admission_reply *reply);
void ward_admission_reply_free(struct ward_admission_reply *reply);

#endif
