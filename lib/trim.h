/* Giving memory back after a burst. glibc keeps what a burst freed in its
 * arenas (one per thread) and returns only the top of each heap; a burst of
 * connections that all closed leaves the process at its peak RSS, which
 * looks like a leak to whoever watches the pod. malloc_trim(0) hands every
 * arena's free pages back (madvise), at a cost that grows with the heap, so
 * it is called only when the load has fallen well below the peak it reached
 * since the last trim, and at most once a second per caller.
 *
 * One ward_trim per loop, ticked from that loop (about once a second) with
 * its own measure of load (live connections, calls, queued bytes in KiB). */
#ifndef WARD_TRIM_H
#define WARD_TRIM_H

#include <stdbool.h>
#include <stdint.h>

struct ward_trim {
	uint64_t peak;	   /* the highest load since the last trim */
	uint64_t last_ms;  /* when it last trimmed */
	uint64_t min_drop; /* a fall smaller than this is not a burst that ended */
	uint64_t trims;	   /* how many times it trimmed */
};

/* min_drop: the smallest fall of the load worth a trim (e.g. 32 connections). */
void ward_trim_init(struct ward_trim *t, uint64_t min_drop);
/* The load now: trims when it is at most half the peak and at least
 * min_drop below it. True when it trimmed. */
bool ward_trim_tick(struct ward_trim *t, uint64_t load, uint64_t now_ms);

#endif
