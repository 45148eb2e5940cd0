/* The admin socket's requests against the server's state (protocol in
 * server/ctl.h; forced rotations are server/rotation.h). Listings carry certificates' facts, never
 * keys. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "server/server.h"

static const char *const ca_states[] = {"prepared", "active", "old"};

/* RFC 3339, UTC. */
static json_t *when(time_t t)
{
	char buf[32];
	struct tm tm;

	if (!t || !gmtime_r(&t, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *strings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *list_entries(const struct ward_server *s)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < s->reg->n; i++) {
		const struct ward_reg_entry *e = &s->reg->entries[i];

		json_array_append_new(
		    list,
		    json_pack("{s:I,s:s,s:o,s:o,s:s?,s:I}", "index", (json_int_t)i, "spiffe_id",
			      e->id.text, "selectors", strings(e->selectors, e->n_selectors),
			      "federates_with", strings(e->federates_with, e->n_federates_with),
			      "hint", e->hint, "x509_svid_ttl_s",
			      (json_int_t)(e->x509_svid_ttl_s ? e->x509_svid_ttl_s
							      : s->cfg->svid_ttl_s)));
	}
	return json_pack("{s:b,s:o}", "ok", 1, "entries", list);
}

static json_t *list_svids(const struct ward_server *s)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < ward_issuer_count(s->issuer); i++) {
		const struct ward_issued *v = ward_issuer_at(s->issuer, i);

		if (!v)
			continue;
		json_array_append_new(
		    list,
		    json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:I,s:I}", "entry", (json_int_t)i,
			      "spiffe_id", v->id.text, "serial", v->serial_hex, "not_before",
			      when(v->not_before), "not_after", when(v->not_after), "rotate_at",
			      when(ward_issuer_rotate_at(v->issued_at, v->not_after)), "ca",
			      (json_int_t)v->ca_id, "streams",
			      (json_int_t)ward_issuer_holders(s->issuer, i)));
	}
	return json_pack("{s:b,s:o}", "ok", 1, "svids", list);
}

static json_t *list_cas(const struct ward_server *s)
{
	json_t *list = json_array();
	const struct ward_ca_slot *slots;
	size_t n;

	slots = ward_ca_manager_slots(s->ca, &n);
	for (size_t i = 0; list && i < n; i++) {
		const struct ward_ca_slot *c = &slots[i];

		json_array_append_new(
		    list,
		    json_pack("{s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)c->id,
			      "state", ca_states[c->state], "serial", c->serial_hex, "not_before",
			      when(c->not_before), "not_after", when(c->not_after), "prepare_at",
			      when(ward_ca_prepare_at(c->issued_at, c->not_after)), "activate_at",
			      when(ward_ca_activate_at(c->issued_at, c->not_after)),
			      "leaves_bundle_at", when(c->drop_at ? c->drop_at : c->not_after),
			      "issued_until", when(c->issued_until)));
	}
	return json_pack("{s:b,s:b,s:o}", "ok", 1, "upstream", ward_ca_manager_is_upstream(s->ca),
			 "cas", list);
}

void ward_server_admin(void *arg, const json_t *request, struct ward_ctl_req *req)
{
	struct ward_server *s = arg;
	const char *cmd = json_string_value(json_object_get(request, "command"));
	const char *what = json_string_value(json_object_get(request, "what"));
	json_t *reply;

	if (!cmd)
		reply = ward_ctl_error("request has no \"command\"");
	else if (s->stopping)
		reply = ward_ctl_error("server is stopping");
	else if (!strcmp(cmd, "rotate") && what)
		return ward_rotation_start(s, what, req); /* replies when done */
	else if (!strcmp(cmd, "rotate"))
		reply = ward_ctl_error("rotate: \"what\" is missing");
	else if (!strcmp(cmd, "entries"))
		reply = list_entries(s);
	else if (!strcmp(cmd, "svids"))
		reply = list_svids(s);
	else if (!strcmp(cmd, "cas"))
		reply = list_cas(s);
	else
		reply = ward_ctl_error("unknown command: expected rotate, entries, svids or cas");
	ward_ctl_reply(req, reply);
}
