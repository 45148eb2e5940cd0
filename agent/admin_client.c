#include "agent/admin_client.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "lib/buf.h"

#define BODY_LIMIT (4u << 20)
#define TIMEOUT_MS 5000L

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct ward_buf *b = arg;

	if (ward_buf_append(b, p, size * n) < 0)
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	return size * n;
}

/* 0.0.0.0:15020 listens everywhere; ask it on loopback. */
static void url_of(const struct ward_addr *addr, const char *path, char *url, size_t len)
{
	struct ward_addr a = *addr;
	char host[64];

	if (a.ss.ss_family == AF_INET) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&a.ss;

		if (v4->sin_addr.s_addr == htonl(INADDR_ANY))
			v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (a.ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a.ss;

		if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr))
			v6->sin6_addr = in6addr_loopback;
	}
	ward_addr_format((const struct sockaddr *)&a.ss, host, sizeof(host));
	snprintf(url, len, "http://%s%s", host, path);
}

int ward_admin_get(const struct ward_addr *addr, const char *path, char **body, long *status)
{
	struct ward_buf b;
	char url[256];
	CURL *curl = curl_easy_init();
	CURLcode rc;

	ENSURE(curl, WARD_ERR_NOMEM, "curl");
	ward_buf_init(&b, BODY_LIMIT);
	url_of(addr, path, url, sizeof(url));
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* the admin port is local */
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(curl);
	if (rc == CURLE_OK)
		rc = ward_buf_append(&b, "", 1) < 0 ? CURLE_WRITE_ERROR : CURLE_OK;
	if (rc != CURLE_OK) {
		ward_buf_free(&b);
		return ward_err_set(WARD_ERR_IO, "%s: %s (is the agent running? admin.listen)", url,
				    curl_easy_strerror(rc));
	}
	*body = (char *)ward_buf_detach(&b, &(size_t){0});
	return 0;
}

int ward_admin_get_json(const struct ward_addr *addr, const char *path, json_t **out)
{
	json_error_t err;
	char *body = NULL;
	long status = 0;

	GUARD(ward_admin_get(addr, path, &body, &status));
	if (status != 200) {
		int rc = ward_err_set(WARD_ERR_IO, "%s: HTTP %ld: %.200s", path, status, body);

		free(body);
		return rc;
	}
	*out = json_loads(body, 0, &err);
	free(body);
	ENSURE(*out, WARD_ERR_INVALID, "%s: not JSON (%s)", path, err.text);
	return 0;
}
