/* libcurl's multi-socket interface driven by a libuv loop: curl's sockets
 * are watched with uv_poll and its timeouts with a uv_timer, so transfers
 * run on the caller's loop with no thread of their own and no blocking call.
 * The Workload API client and the agent's app probes sit on it. Everything
 * runs on the loop's thread.
 *
 * A transfer is an easy handle the caller set up; once added, it belongs to
 * the loop until its done callback runs (or the caller removes it), and is
 * the caller's again after that, to clean up or to add again. The loop uses
 * the easy handle's CURLOPT_PRIVATE for itself. Callbacks never run from
 * inside ward_curl_loop_add. */
#ifndef WARD_CURL_LOOP_H
#define WARD_CURL_LOOP_H

#include <curl/curl.h>
#include <uv.h>

#include "lib/err.h"

struct ward_curl_loop;

/* The transfer ended with res; easy is out of the multi handle. */
typedef void (*ward_curl_done_fn)(CURL *easy, CURLcode res, void *arg);

int ward_curl_loop_new(uv_loop_t *loop, struct ward_curl_loop **out) WARD_MUST_CHECK;
/* Starts easy; done runs once when it ends, unless it is removed first. */
int ward_curl_loop_add(struct ward_curl_loop *l, CURL *easy, ward_curl_done_fn done,
		       void *arg) WARD_MUST_CHECK;
/* Stops a transfer that has not ended, without its done callback; easy is
 * the caller's again. Closes the transfer's sockets. */
void ward_curl_loop_remove(struct ward_curl_loop *l, CURL *easy);
/* Stops every transfer (no done callback runs after this returns) and frees
 * the loop once libuv has closed its handles (run the loop). The transfers'
 * easy handles are cleaned up. Safe on NULL, and inside a done callback. */
void ward_curl_loop_free(struct ward_curl_loop *l);

#endif
