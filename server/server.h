/* `ward server`: a SPIRE-like identity server for one machine. It owns a CA
 * (spiffe/ca_manager.h), registration entries (spiffe/registration.h), the
 * SVIDs it issued (spiffe/issuer.h), and serves the SPIFFE Workload API
 * (spiffe/wl_server.h, spiffe/wl_service.h) and an admin socket
 * (spiffe/admin.h), all on one libuv loop: every change of state happens on
 * that loop, so nothing here takes a lock.
 *
 * One timer drives rotation: it fires at the next moment the CA schedule or
 * an SVID's half-life asks for, applies both, and pushes what changed to the
 * open streams. */
#ifndef WARD_SPIFFE_SERVER_H
#define WARD_SPIFFE_SERVER_H

#include <uv.h>

#include "lib/err.h"
#include "server/ctl.h"
#include "server/ca_manager.h"
#include "server/issuer.h"
#include "server/registration.h"
#include "server/rotation.h"
#include "server/server_config.h"
#include "server/wl_server.h"
#include "server/wl_service.h"

struct ward_server {
	struct ward_server_config *cfg; /* owned */
	struct ward_registration *reg;	/* owned */
	struct ward_ca_manager *ca;	/* owned */
	struct ward_issuer *issuer;	/* owned */
	struct ward_wl_fed_bundle *fed; /* owned, cfg->n_federation of them */
	struct ward_wl_service svc;
	struct ward_wl_server *wl; /* freed by its stop */
	struct ward_ctl *admin;	   /* freed by its stop */
	uv_loop_t loop;
	uv_timer_t timer;
	uv_signal_t sig_term, sig_int;
	struct ward_rotation *rotation; /* owned: the forced rotation under way, or NULL */
	uv_timer_t rotation_timer;	/* its steps */
	bool stopping;
	bool check; /* --check: load and validate, write nothing */
};

/* Loads entries, federation bundles and CAs for cfg (which s takes). With
 * check, nothing is written: data_dir is not created, no CA is saved. */
int ward_server_init(struct ward_server *s, struct ward_server_config *cfg,
		     bool check) WARD_MUST_CHECK;
/* Opens the sockets and runs the loop until SIGTERM or SIGINT. */
int ward_server_run(struct ward_server *s) WARD_MUST_CHECK;
void ward_server_uninit(struct ward_server *s);

/* Applies the CA schedule and SVID rotation at now, pushes changes, and
 * sets the timer for the next event. */
void ward_server_tick(struct ward_server *s);

/* The admin socket's requests (server/server_admin.c). */
void ward_server_admin(void *arg, const json_t *request, struct ward_ctl_req *req);

#endif
