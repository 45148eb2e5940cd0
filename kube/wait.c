/* `ward wait`: blocks until the local agent answers /ready with 200, or a
 * timeout. With --legacy-sidecar it is the proxy container's postStart
 * hook: kubelet starts the app containers only once the hook returns, so
 * the app never opens a connection before the proxy can carry it. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/cli.h"
#include "lib/err.h"

#define DEFAULT_URL "http://127.0.0.1:15020/ready"
#define POLL_MS 200

static void usage(FILE *out)
{
	fprintf(out, "usage: ward wait [--url URL] [--timeout SECONDS]\n\n"
		     "Polls the agent's readiness endpoint until it answers 200.\n"
		     "Exit 0 once ready, 1 when the timeout passes first.\n\n"
		     "  --url URL          readiness URL (" DEFAULT_URL ")\n"
		     "  --timeout SECONDS  give up after this long (60; 0 = one try)\n"
		     "  -h, --help         this text\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* One GET; *why says what was wrong when it was not a 200. */
static bool ready_once(CURL *c, char *why, size_t len)
{
	char err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(why, len, "%s", err[0] ? err : curl_easy_strerror(rc));
		return false;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	snprintf(why, len, "HTTP %ld", status);
	return status == 200;
}

static int parse_timeout(const char *s, long *out)
{
	char *end;

	*out = strtol(s, &end, 10);
	ENSURE(*s && !*end && *out >= 0 && *out <= 86400, WARD_ERR_INVALID,
	       "--timeout: '%s' is not a number of seconds (0-86400)", s);
	return 0;
}

static int wait_ready(const char *url, long timeout)
{
	double deadline = now_s() + (double)timeout;
	char why[CURL_ERROR_SIZE + 32] = "";
	CURL *c = curl_easy_init();
	bool ok = false;

	ENSURE(c, WARD_ERR_NOMEM, "curl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	while (!(ok = ready_once(c, why, sizeof(why))) && now_s() < deadline) {
		struct timespec pause = {0, POLL_MS * 1000000L};

		nanosleep(&pause, NULL);
	}
	curl_easy_cleanup(c);
	ENSURE(ok, WARD_ERR_TIMEOUT, "%s not ready after %lds (last: %s)", url, timeout, why);
	return 0;
}

int ward_wait_main(int argc, char **argv)
{
	static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
					     {"timeout", required_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *url = DEFAULT_URL;
	long timeout = 60;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			url = optarg;
			break;
		case 't':
			if (parse_timeout(optarg, &timeout) < 0) {
				fprintf(stderr, "ward wait: %s\n", ward_err_msg());
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = wait_ready(url, timeout);
	curl_global_cleanup();
	if (rc < 0) {
		fprintf(stderr, "ward wait: %s\n", ward_err_msg());
		return 1;
	}
	return 0;
}
