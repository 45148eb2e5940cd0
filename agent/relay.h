/* Moving bytes between the two ends of a proxied connection (end.h).
 *
 * Backpressure: an end is read from only while the other end has fewer than
 * `limit` bytes waiting to be written; past that the source is paused (TCP
 * flow control then reaches its sender) and resumes when the queue drains.
 * Half-close: when one end's far side finishes sending, the other end is
 * finished (FIN, or close_notify then FIN), and the other direction carries
 * on (RFC 8446 §6.1 lets each direction close on its own).
 *
 * The relay never closes anything: every call returns what the connection
 * should do next. */
#ifndef WARD_AGENT_RELAY_H
#define WARD_AGENT_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "agent/end.h"
#include "agent/metrics.h"

enum ward_relay_state {
	WARD_RELAY_OPEN,   /* carry on */
	WARD_RELAY_DONE,   /* both directions finished and flushed: close */
	WARD_RELAY_RESET,  /* an end's far side reset: close with a reset */
	WARD_RELAY_FAILED, /* something broke (reason in ward_err_msg()) */
};

struct ward_relay {
	struct ward_end *end[2]; /* borrowed */
	size_t limit;		 /* queued bytes that pause the other end */
	size_t chunk;		 /* the most one take moves */
	uint64_t moved[2];	 /* plaintext bytes moved out of end[i] */
	atomic_ullong *bytes[2]; /* borrowed: counters for moved[i], or NULL */
};

void ward_relay_init(struct ward_relay *r, struct ward_end *a, struct ward_end *b, size_t limit,
		     size_t chunk);

/* Moves what end[from] holds to the other end while that one has room,
 * carries an EOF through as a finish, and pauses or resumes end[from]. */
enum ward_relay_state ward_relay_pump(struct ward_relay *r, int from);
/* end[i]'s write queue fell: what waited on the other end moves now. */
enum ward_relay_state ward_relay_drained(struct ward_relay *r, int i);
/* DONE once both directions are finished and written, else OPEN. */
enum ward_relay_state ward_relay_state(const struct ward_relay *r);

#endif
