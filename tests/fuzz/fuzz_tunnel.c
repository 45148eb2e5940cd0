/* libFuzzer target for the tunnel's inbound HTTP/2 side (agent/mux.h): the
 * bytes a peer sends after the TLS handshake, through nghttp2 and ward's
 * callbacks, CONNECT header checks, Forwarded parsing, stream ends, early
 * data, resets and GOAWAY. The client preface is prepended; the input is fed
 * in pieces whose sizes come from its first byte. The owner answers each
 * request 200, 403 or not at all (by the authority's last byte), takes what
 * arrives, puts some back, and finishes or releases streams, so every path
 * of the stream end runs. Invariants: no crash, no leak, no overread, and
 * every end freed once the session is closed (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

static struct ward_h2_end *owned[64];
static size_t n_owned;

static int f_send(void *owner, const uint8_t *data, size_t len)
{
	(void)owner;
	(void)data;
	(void)len;
	return 0;
}

static size_t f_queued(void *owner)
{
	(void)owner;
	return 0;
}

static void f_dirty(void *owner)
{
	(void)owner;
}

static void f_response(void *o, struct ward_h2_end *e, int status)
{
	(void)o;
	(void)e;
	(void)status;
}

static void f_readable(void *o, struct ward_h2_end *e)
{
	uint8_t *d;
	size_t n;

	(void)o;
	while (e->base.ops->take(&e->base, 65536, &d, &n) == 0) {
		/* Echo a little back, as an app would answer. */
		if (n > 0 && (d[0] & 1) && e->base.ops->put(&e->base, d, n) == 0)
			continue;
		free(d);
	}
	if (e->in_eof)
		(void)e->base.ops->finish(&e->base);
}

static void f_event(void *o, struct ward_h2_end *e)
{
	(void)o;
	(void)e;
}

static const struct ward_h2_end_events ev = {f_response, f_readable, f_event, f_event};

static void f_request(void *owner, struct ward_h2_end *e, const struct ward_mux_request *req)
{
	size_t len = strlen(req->authority_text);
	uint8_t pick = len ? (uint8_t)req->authority_text[len - 1] : 0;

	(void)owner;
	if (pick % 3 == 2 || n_owned == sizeof(owned) / sizeof(owned[0]))
		return; /* left alone: the mux answers 503 */
	ward_h2_end_attach(e, &ev, NULL);
	e->owner = e; /* any non-NULL owner */
	owned[n_owned++] = e;
	(void)ward_h2_end_respond(e, pick % 3 ? 403 : 200);
}

static const struct ward_mux_ops ops = {f_send, f_queued, f_dirty, f_request, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_mux_limits lim = {.max_streams = 16,
				      .max_header_list = 4096,
				      .stream_window = 4096,
				      .buffer_bytes = 4096,
				      .out_high = 1 << 20};
	struct ward_mux m;
	size_t step, off = 0;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 64 + 1;
	n_owned = 0;
	if (ward_mux_init(&m, WARD_MUX_SERVER, &lim, &ops, NULL) < 0)
		return 0;
	if (ward_mux_recv(&m, (const uint8_t *)PREFACE, strlen(PREFACE)) < 0)
		abort();
	data++;
	size--;
	while (off < size && !m.failed) {
		size_t n = size - off < step ? size - off : step;

		if (ward_mux_recv(&m, data + off, n) < 0 || ward_mux_flush(&m) < 0)
			break;
		off += n;
	}
	/* Half the streams let go before the session closes, half after. */
	for (size_t i = 0; i < n_owned; i += 2)
		ward_h2_end_release(owned[i], i % 4 == 0);
	ward_mux_close(&m);
	for (size_t i = 1; i < n_owned; i += 2)
		ward_h2_end_release(owned[i], false);
	return 0;
}
