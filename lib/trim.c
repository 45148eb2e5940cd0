/* Memory back after a burst; the contract is in trim.h. */
#include "lib/trim.h"

#include <malloc.h>
#include <string.h>

#define MIN_INTERVAL_MS 1000

void ward_trim_init(struct ward_trim *t, uint64_t min_drop)
{
	memset(t, 0, sizeof(*t));
	t->min_drop = min_drop ? min_drop : 1;
}

bool ward_trim_tick(struct ward_trim *t, uint64_t load, uint64_t now_ms)
{
	if (load > t->peak)
		t->peak = load;
	if (t->peak - load < t->min_drop || load > t->peak / 2 ||
	    now_ms - t->last_ms < MIN_INTERVAL_MS)
		return false;
	malloc_trim(0);
	t->peak = load;
	t->last_ms = now_ms;
	t->trims++;
	return true;
}
