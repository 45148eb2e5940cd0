/* `ward webhook`: the mutating admission webhook. HTTPS (TLS 1.3, wolfSSL)
 * through the shared HTTP server; the serving certificate and key are
 * re-read when either file changes (cert-manager and Secret volumes rotate
 * them in place) or on SIGHUP, and a broken pair is refused while the
 * current one keeps serving. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "kube/cli.h"
#include "certs/pem.h"
#include "lib/file.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "kube/admission.h"
#include "kube/inject.h"
#include "kube/manifest.h"

#define DEFAULT_LISTEN "0.0.0.0:8443"
#define CERT_POLL_MS 2000
/* A review carries the pod (and for updates the old one too). */
#define MAX_REVIEW_BYTES (6u << 20)

struct webhook {
	uv_loop_t loop;
	struct ward_http_server *srv;
	struct ward_inject_opts opts;
	const char *cert_path, *key_path;
	uv_fs_poll_t poll_cert, poll_key;
	uv_signal_t sig_term, sig_int, sig_hup;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ward webhook --tls-cert FILE --tls-key FILE [options]\n\n"
		"Serves the mutating admission webhook: POST /inject takes an\n"
		"admission.k8s.io/v1 AdmissionReview of a Pod and answers with a JSON Patch\n"
		"that does what `ward inject` does. GET /healthz answers 200.\n\n"
		"  --tls-cert FILE         serving certificate chain, PEM (re-read on change)\n"
		"  --tls-key FILE          its private key, PEM (re-read on change)\n"
		"  --listen ADDR           ip:port to listen on (" DEFAULT_LISTEN ")\n"
		"  --config FILE           injector defaults (JSON; as for ward inject)\n"
		"  --image IMAGE           the ward image injected\n"
		"  --legacy-sidecar        inject the proxy as a regular container\n"
		"  --workload-socket-hostpath DIR  Workload API socket from a node directory\n"
		"  --workload-socket-name NAME  the socket's file name (as for ward inject)\n"
		"  --log-level LEVEL       debug, info, warn, error (info)\n"
		"  -h, --help              this text\n\n"
		"Signals: SIGTERM/SIGINT stop; SIGHUP re-reads the certificate and key.\n");
}

/* A TLS 1.3 server context from the PEM files, with the agent's `modern`
 * profile (so X25519MLKEM768 first where the build has it); the key's bytes
 * are zeroed as soon as wolfSSL has them. */
static int load_ctx(const char *cert_path, const char *key_path, WOLFSSL_CTX **out)
{
	static const struct ward_tls_names modern = {.profile = "modern"};
	struct ward_tls_policy policy;
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	WOLFSSL_CTX *ctx = NULL;
	int rc = 0;

	if ((rc = ward_file_read(cert_path, WARD_PEM_CERTS_MAX_BYTES, &cert, &cert_len, NULL)) <
		0 ||
	    (rc = ward_file_read(key_path, WARD_PEM_KEY_MAX_BYTES, &key, &key_len, NULL)) < 0)
		goto out;
	if (!(ctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method()))) {
		rc = ward_err_set(WARD_ERR_NOMEM, "TLS context");
		goto out;
	}
	if ((rc = ward_tls_policy_build(&modern, &policy)) < 0 ||
	    (rc = ward_tls_policy_apply(ctx, &policy)) < 0)
		goto out;
	if (wolfSSL_CTX_use_certificate_chain_buffer(ctx, (const unsigned char *)cert,
						     (long)cert_len) != WOLFSSL_SUCCESS)
		rc = ward_err_set(WARD_ERR_TLS, "%s: not a PEM certificate chain", cert_path);
	else if (wolfSSL_CTX_use_PrivateKey_buffer(ctx, (const unsigned char *)key, (long)key_len,
						   WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
		rc = ward_err_set(WARD_ERR_TLS, "%s: not a PEM private key", key_path);
	else if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS)
		rc = ward_err_set(WARD_ERR_TLS, "%s does not match the certificate in %s", key_path,
				  cert_path);
out:
	if (key)
		explicit_bzero(key, key_len);
	free(key);
	free(cert);
	if (rc == 0)
		*out = ctx;
	else
		wolfSSL_CTX_free(ctx);
	return rc;
}

static int reload(struct webhook *w)
{
	WOLFSSL_CTX *ctx;
	int rc;

	GUARD(load_ctx(w->cert_path, w->key_path, &ctx));
	rc = ward_http_server_set_tls(w->srv, ctx);
	wolfSSL_CTX_free(ctx); /* the server holds its own reference */
	return rc;
}

static void on_cert_change(struct webhook *w, const char *why)
{
	if (reload(w) < 0)
		ward_log(WARD_LOG_WARN, "webhook_cert_reload_failed", "{s:s,s:s}", "reason",
			 ward_err_msg(), "trigger", why);
	else
		ward_log(WARD_LOG_INFO, "webhook_cert_loaded", "{s:s,s:s}", "cert", w->cert_path,
			 "trigger", why);
}

static void on_poll(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
	/* A file that vanished for a moment (a symlink swap) shows up again
	 * with a new stat; only reload when there is something to read. */
	if (status == 0)
		on_cert_change(h->data, "file changed");
}

static void respond(struct ward_http_response *resp, struct ward_admission_reply *r)
{
	resp->status = r->status;
	resp->content_type = r->status == 200 ? "application/json" : "text/plain";
	resp->body = r->body;
	resp->body_len = r->body_len;
	r->body = NULL;
}

static void handle_inject(struct webhook *w, const struct ward_http_request *req,
			  struct ward_http_response *resp)
{
	struct ward_admission_reply r;

	if (ward_admission_review(&w->opts, req->body.p, req->body.len, &r) < 0) {
		ward_admission_reply_free(&r);
		if (ward_http_response_text(resp, 500, "ward webhook: %s", ward_err_msg()) < 0)
			resp->status = 500;
		return;
	}
	ward_log(r.status == 200 ? WARD_LOG_INFO : WARD_LOG_WARN, "admission", "{s:s,s:s}",
		 "result", r.result, "reason", r.reason);
	respond(resp, &r);
}

static void handle(struct ward_http_server *srv, const struct ward_http_request *req,
		   struct ward_http_response *resp, void *arg)
{
	int rc = 0;

	if (ward_http_path_is(req, "/inject") && req->method == HTTP_POST) {
		handle_inject(arg, req, resp);
		return;
	}
	if (ward_http_path_is(req, "/healthz") && req->method == HTTP_GET)
		rc = ward_http_response_text(resp, 200, "ok");
	else if (ward_http_path_is(req, "/inject") || ward_http_path_is(req, "/healthz")) {
		rc = ward_http_response_text(resp, 405, "method not allowed");
		resp->allow = ward_http_path_is(req, "/inject") ? "POST" : "GET";
	} else
		rc = ward_http_response_text(resp, 404, "not found: POST /inject, GET /healthz");
	if (rc < 0)
		resp->status = 500;
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct webhook *w = s->data;

	if (signum == SIGHUP) {
		on_cert_change(w, "SIGHUP");
		return;
	}
	ward_log(WARD_LOG_INFO, "webhook_stopping", "{s:i}", "signal", signum);
	ward_http_server_free(w->srv);
	w->srv = NULL;
	uv_close((uv_handle_t *)&w->poll_cert, NULL);
	uv_close((uv_handle_t *)&w->poll_key, NULL);
	uv_close((uv_handle_t *)&w->sig_term, NULL);
	uv_close((uv_handle_t *)&w->sig_int, NULL);
	uv_close((uv_handle_t *)&w->sig_hup, NULL);
}

/* uv_fs_poll reports a missing file through the callback, so starting
 * cannot fail on a path that is not there yet. */
static void watch(struct webhook *w, uv_fs_poll_t *p, const char *path)
{
	uv_fs_poll_init(&w->loop, p);
	p->data = w;
	uv_fs_poll_start(p, on_poll, path, CERT_POLL_MS);
}

static void signal_start(struct webhook *w, uv_signal_t *s, int signum)
{
	uv_signal_init(&w->loop, s);
	s->data = w;
	uv_signal_start(s, on_signal, signum);
}

static int serve(struct webhook *w, const struct ward_addr *addr)
{
	struct ward_http_limits limits;
	int rc;

	ward_http_limits_default(&limits);
	limits.body_bytes = MAX_REVIEW_BYTES;
	GUARD(ward_http_server_new(&w->loop, &limits, handle, w, &w->srv));
	if ((rc = reload(w)) < 0 || (rc = ward_http_server_listen_tcp(w->srv, addr)) < 0) {
		ward_http_server_free(w->srv);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		return rc;
	}
	watch(w, &w->poll_cert, w->cert_path);
	watch(w, &w->poll_key, w->key_path);
	signal_start(w, &w->sig_term, SIGTERM);
	signal_start(w, &w->sig_int, SIGINT);
	signal_start(w, &w->sig_hup, SIGHUP);
	ward_log(WARD_LOG_INFO, "webhook_ready", "{s:s,s:s}", "cert", w->cert_path, "image",
		 w->opts.image);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	return 0;
}

struct args {
	const char *listen, *level;
	json_t *flags; /* injector settings given as flags; they win over --config */
};

static int parse_args(struct webhook *w, struct args *a, int argc, char **argv)
{
	enum {
		O_CERT = 256,
		O_KEY,
		O_LISTEN,
		O_CONFIG,
		O_IMAGE,
		O_LEGACY,
		O_HOSTPATH,
		O_SOCKET_NAME,
		O_LEVEL
	};
	static const struct option opts[] = {
	    {"tls-cert", required_argument, NULL, O_CERT},
	    {"tls-key", required_argument, NULL, O_KEY},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"config", required_argument, NULL, O_CONFIG},
	    {"image", required_argument, NULL, O_IMAGE},
	    {"legacy-sidecar", no_argument, NULL, O_LEGACY},
	    {"workload-socket-hostpath", required_argument, NULL, O_HOSTPATH},
	    {"workload-socket-name", required_argument, NULL, O_SOCKET_NAME},
	    {"log-level", required_argument, NULL, O_LEVEL},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case O_CERT:
			w->cert_path = optarg;
			break;
		case O_KEY:
			w->key_path = optarg;
			break;
		case O_LISTEN:
			a->listen = optarg;
			break;
		case O_CONFIG:
			GUARD(ward_inject_opts_load(&w->opts, optarg));
			break;
		case O_IMAGE:
			json_object_set_new(a->flags, "image", json_string(optarg));
			break;
		case O_LEGACY:
			json_object_set_new(a->flags, "legacy_sidecar", json_true());
			break;
		case O_HOSTPATH:
			json_object_set_new(a->flags, "workload_socket_hostpath",
					    json_string(optarg));
			break;
		case O_SOCKET_NAME:
			json_object_set_new(a->flags, "workload_socket_name", json_string(optarg));
			break;
		case O_LEVEL:
			a->level = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return ward_err_set(WARD_ERR_INVALID, "bad usage");
		}
	}
	ENSURE(optind == argc, WARD_ERR_INVALID, "unexpected argument '%s'", argv[optind]);
	ENSURE(w->cert_path && w->key_path, WARD_ERR_INVALID,
	       "--tls-cert and --tls-key are required (the API server only calls HTTPS)");
	GUARD(ward_log_set_level_name(a->level));
	return ward_inject_opts_load_json(&w->opts, a->flags);
}

int ward_webhook_main(int argc, char **argv)
{
	struct webhook w = {0};
	struct args a = {.listen = DEFAULT_LISTEN, .level = "info", .flags = json_object()};
	struct ward_addr addr;
	int rc;

	if (ward_inject_opts_init(&w.opts) < 0 || !a.flags) {
		fprintf(stderr, "ward webhook: out of memory\n");
		return 1;
	}
	rc = parse_args(&w, &a, argc, argv);
	if (rc == 0 && ward_addr_parse(a.listen, &addr) < 0)
		rc = ward_err_prefix(WARD_ERR_INVALID, "--listen");
	json_decref(a.flags);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "ward webhook: %s\n", ward_err_msg());
		ward_inject_opts_free(&w.opts);
		return rc < 0 ? 2 : 0;
	}
	if ((rc = ward_tls_global_init()) == 0) {
		uv_loop_init(&w.loop);
		rc = serve(&w, &addr);
		uv_loop_close(&w.loop);
		ward_tls_global_cleanup();
	}
	if (rc < 0)
		fprintf(stderr, "ward webhook: %s\n", ward_err_msg());
	ward_inject_opts_free(&w.opts);
	return rc < 0 ? 1 : 0;
}
