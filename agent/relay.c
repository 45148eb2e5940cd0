/* The relay; the rules are in relay.h. */
#include "agent/relay.h"

void ward_relay_init(struct ward_relay *r, struct ward_end *a, struct ward_end *b, size_t limit,
		     size_t chunk)
{
	*r = (struct ward_relay){.end = {a, b}, .limit = limit, .chunk = chunk};
}

static bool full(const struct ward_relay *r, int i)
{
	const struct ward_end *e = r->end[i];

	return e->ops->queued(e) >= r->limit;
}

static enum ward_relay_state failed(int rc)
{
	return rc == WARD_ERR_RESET ? WARD_RELAY_RESET : WARD_RELAY_FAILED;
}

enum ward_relay_state ward_relay_state(const struct ward_relay *r)
{
	for (int i = 0; i < 2; i++)
		if (!r->end[i]->eof || !r->end[i]->ops->flushed(r->end[i]))
			return WARD_RELAY_OPEN;
	return WARD_RELAY_DONE;
}

/* One block from src to dst; WARD_ERR_WOULDBLOCK when src has none. */
static int move_one(struct ward_relay *r, int from)
{
	struct ward_end *src = r->end[from], *dst = r->end[!from];
	uint8_t *data;
	size_t len;
	int rc = src->ops->take(src, r->chunk, &data, &len);

	if (rc == WARD_ERR_EOF) {
		src->eof = true;
		return dst->ops->finish(dst);
	}
	GUARD(rc);
	r->moved[from] += len;
	if (r->bytes[from])
		ward_metric_add(r->bytes[from], len);
	return dst->ops->put(dst, data, len);
}

enum ward_relay_state ward_relay_pump(struct ward_relay *r, int from)
{
	struct ward_end *src = r->end[from];
	int rc = 0;

	while (!src->eof && !full(r, !from) && (rc = move_one(r, from)) == 0)
		;
	if (rc < 0 && rc != WARD_ERR_WOULDBLOCK)
		return failed(rc);
	/* The other end is not keeping up: leave the rest in src's socket
	 * buffer (TCP flow control reaches the sender) rather than in ours. */
	rc = src->ops->pause(src, src->eof || full(r, !from));
	if (rc < 0)
		return failed(rc);
	return ward_relay_state(r);
}

enum ward_relay_state ward_relay_drained(struct ward_relay *r, int i)
{
	if (full(r, i))
		return WARD_RELAY_OPEN;
	return ward_relay_pump(r, !i);
}
