#include "agent/identity.h"

#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/wolfcrypt/sha256.h>

#include "certs/pem.h"
#include "lib/log.h"
#include "agent/metrics.h"

#define DEBOUNCE_MS 200 /* a rotation writes several files; read them once */
#define MAX_WATCHES 3

struct ward_identity {
	uv_loop_t *loop;
	const struct ward_config *cfg;	      /* borrowed */
	const struct ward_tls_policy *policy; /* borrowed */
	ward_identity_cb on_update;
	void *arg;
	uv_fs_event_t watches[MAX_WATCHES];
	int n_watches;
	uv_timer_t debounce;
	struct ward_identity_digest digest; /* of the files as last loaded */
	bool loaded;			    /* an identity has been handed out */
	int closing;			    /* handles still to close; 0 and stopping: freed */
	bool stopping;
};

static void digest_certs(wc_Sha256 *sha, const struct ward_pem_certs *c)
{
	for (size_t i = 0; i < c->count; i++)
		wc_Sha256Update(sha, c->certs[i].data, (word32)c->certs[i].len);
}

static void digest_of(const struct ward_pem_certs *chain, const struct ward_pem_key *key,
		      const struct ward_pem_certs *bundle, struct ward_identity_digest *d)
{
	wc_Sha256 sha;

	wc_InitSha256(&sha);
	digest_certs(&sha, chain);
	wc_Sha256Update(&sha, key->der, (word32)key->len);
	wc_Sha256Final(&sha, d->svid);
	digest_certs(&sha, bundle); /* Final re-initialised the state */
	wc_Sha256Final(&sha, d->bundle);
	wc_Sha256Free(&sha);
}

static int build(const struct ward_config *cfg, const struct ward_tls_policy *policy,
		 const struct ward_pem_certs *chain, const struct ward_pem_key *key,
		 const struct ward_pem_certs *bundle, struct ward_tls_ctx **out)
{
	struct ward_tls_der *c = calloc(chain->count + bundle->count, sizeof(*c));
	struct ward_tls_material m;
	int rc;

	ENSURE(c, WARD_ERR_NOMEM, "identity material");
	for (size_t i = 0; i < chain->count; i++)
		c[i] = (struct ward_tls_der){chain->certs[i].data, chain->certs[i].len};
	for (size_t i = 0; i < bundle->count; i++)
		c[chain->count + i] =
		    (struct ward_tls_der){bundle->certs[i].data, bundle->certs[i].len};
	m = (struct ward_tls_material){.chain = c,
				       .n_chain = chain->count,
				       .key = {key->der, key->len},
				       .bundle = c + chain->count,
				       .n_bundle = bundle->count};
	rc = ward_tls_ctx_new(&m, policy, cfg->trust_domain, out);
	free(c);
	return rc;
}

int ward_identity_load(const struct ward_config *cfg, const struct ward_tls_policy *policy,
		       struct ward_tls_ctx **out, struct ward_identity_digest *digest)
{
	struct ward_pem_certs chain = {0}, bundle = {0};
	struct ward_pem_key key = {0};
	int rc;

	ENSURE(cfg->identity.cert_file, WARD_ERR_UNSUPPORTED,
	       "identity: only identity.files is supported by this build of ward agent");
	rc = ward_pem_certs_load_file(cfg->identity.cert_file, &chain);
	if (rc == 0)
		rc = ward_pem_key_load_file(cfg->identity.key_file, &key);
	if (rc == 0)
		rc = ward_pem_certs_load_file(cfg->identity.bundle_file, &bundle);
	if (rc == 0 && key.mode_too_open)
		ward_log(WARD_LOG_WARN, "key_file_mode", "{s:s,s:s}", "file",
			 cfg->identity.key_file, "hint",
			 "private key is readable by others: chmod 600");
	if (rc == 0 && digest)
		digest_of(&chain, &key, &bundle, digest);
	if (rc == 0)
		rc = build(cfg, policy, &chain, &key, &bundle, out);
	ward_pem_certs_free(&chain);
	ward_pem_certs_free(&bundle);
	ward_pem_key_free(&key);
	return rc;
}

static void log_identity(const char *event, const struct ward_tls_ctx *t)
{
	ward_log(WARD_LOG_INFO, event, "{s:s,s:s,s:I,s:I}", "spiffe_id", t->spiffe_id, "serial",
		 t->serial, "not_after", (json_int_t)t->not_after, "generation",
		 (json_int_t)t->generation);
}

void ward_identity_reload(struct ward_identity *id)
{
	struct ward_tls_ctx *ctx = NULL;
	struct ward_identity_digest digest;

	if (ward_identity_load(id->cfg, id->policy, &ctx, &digest) < 0) {
		/* Often a rotation caught half-written: the next event retries. */
		ward_log(WARD_LOG_WARN, "identity_reload_failed", "{s:s,s:s}", "reason",
			 ward_err_msg(), "action", "keeping the current identity");
		return;
	}
	if (id->loaded && !memcmp(&digest, &id->digest, sizeof(digest))) {
		ward_tls_ctx_put(ctx);
		return;
	}
	if (id->loaded && memcmp(digest.svid, id->digest.svid, sizeof(digest.svid)))
		ward_metrics_identity_rotated();
	if (id->loaded && memcmp(digest.bundle, id->digest.bundle, sizeof(digest.bundle)))
		ward_metrics_bundle_updated();
	log_identity(id->loaded ? "identity_rotated" : "identity_loaded", ctx);
	id->digest = digest;
	id->loaded = true;
	id->on_update(ctx, id->arg);
	ward_tls_ctx_put(ctx);
}

static void on_debounce(uv_timer_t *t)
{
	ward_identity_reload(t->data);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	struct ward_identity *id = h->data;

	(void)name;
	(void)events;
	(void)status;
	uv_timer_start(&id->debounce, on_debounce, DEBOUNCE_MS, 0);
}

static int watch_dir(struct ward_identity *id, const char *file)
{
	char *copy = strdup(file), *dir;
	int rc;

	ENSURE(copy, WARD_ERR_NOMEM, "identity watch");
	dir = dirname(copy);
	for (int i = 0; i < id->n_watches; i++) {
		char path[4096];
		size_t len = sizeof(path);

		if (uv_fs_event_getpath(&id->watches[i], path, &len) == 0 && !strcmp(path, dir)) {
			free(copy);
			return 0;
		}
	}
	uv_fs_event_init(id->loop, &id->watches[id->n_watches]);
	id->watches[id->n_watches].data = id;
	rc = uv_fs_event_start(&id->watches[id->n_watches++], on_fs_event, dir, 0);
	free(copy);
	ENSURE(rc == 0, WARD_ERR_IO, "identity: cannot watch %s: %s", file, uv_strerror(rc));
	return 0;
}

/* A file that does not exist yet is waited for; one that exists but cannot
 * be used fails the start, as a typo or a broken key should. */
static const char *first_missing(const char *const files[MAX_WATCHES])
{
	struct stat st;

	for (int i = 0; i < MAX_WATCHES; i++)
		if (files[i] && stat(files[i], &st) < 0 && errno == ENOENT)
			return files[i];
	return NULL;
}

int ward_identity_start(uv_loop_t *loop, const struct ward_config *cfg,
			const struct ward_tls_policy *policy, ward_identity_cb on_update, void *arg,
			struct ward_identity **out, struct ward_tls_ctx **first)
{
	struct ward_identity *id = calloc(1, sizeof(*id));
	const char *files[] = {cfg->identity.cert_file, cfg->identity.key_file,
			       cfg->identity.bundle_file};
	const char *missing;
	int rc;

	ENSURE(id, WARD_ERR_NOMEM, "identity");
	*id = (struct ward_identity){
	    .loop = loop, .cfg = cfg, .policy = policy, .on_update = on_update, .arg = arg};
	uv_timer_init(loop, &id->debounce);
	id->debounce.data = id;
	*first = NULL;
	missing = first_missing(files);
	rc = missing ? 0 : ward_identity_load(cfg, policy, first, &id->digest);
	for (int i = 0; rc == 0 && i < MAX_WATCHES; i++)
		rc = watch_dir(id, files[i]);
	if (rc < 0) {
		if (*first)
			ward_tls_ctx_put(*first);
		*first = NULL;
		ward_identity_stop(id);
		return rc;
	}
	*out = id;
	if (missing) {
		ward_log(WARD_LOG_WARN, "identity_waiting", "{s:s,s:s}", "missing", missing,
			 "action",
			 "not ready and refusing mesh traffic until the identity files exist");
		return 0;
	}
	id->loaded = true;
	log_identity("identity_loaded", *first);
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct ward_identity *id = h->data;

	if (--id->closing == 0)
		free(id);
}

void ward_identity_stop(struct ward_identity *id)
{
	if (!id || id->stopping)
		return;
	id->stopping = true;
	id->closing = 1 + id->n_watches;
	for (int i = 0; i < id->n_watches; i++)
		uv_close((uv_handle_t *)&id->watches[i], on_closed);
	uv_close((uv_handle_t *)&id->debounce, on_closed);
}
