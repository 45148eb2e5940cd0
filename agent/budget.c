/* The unauthenticated-connection budget; the contract is in budget.h. */
#include "agent/budget.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/addr.h"

/* FNV-1a over the seeded key. */
static uint32_t bucket_of(const struct ward_budget *b, const uint8_t key[WARD_ADDR_SOURCE_KEY])
{
	uint32_t h = 2166136261u ^ b->seed;

	for (int i = 0; i < WARD_ADDR_SOURCE_KEY; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % WARD_BUDGET_BUCKETS;
}

void ward_budget_init(struct ward_budget *b, unsigned max, unsigned max_per_source,
		      struct ward_metrics_budget *stats)
{
	memset(b, 0, sizeof(*b));
	b->stats = stats;
	b->max = max ? max : 1;
	b->max_per_source = max_per_source ? max_per_source : 1;
	if (getrandom(&b->seed, sizeof(b->seed), GRND_NONBLOCK) != sizeof(b->seed))
		b->seed = (uint32_t)(uintptr_t)b;
}

static struct ward_budget_slot *of_age(struct ward_list_node *n)
{
	return ward_list_entry(n, struct ward_budget_slot, age);
}

static struct ward_budget_slot *of_source(struct ward_list_node *n)
{
	return ward_list_entry(n, struct ward_budget_slot, source);
}

/* The source's oldest slot, and how many it holds. */
static struct ward_budget_slot *source_oldest(struct ward_budget *b,
					      const uint8_t key[WARD_ADDR_SOURCE_KEY],
					      uint32_t bucket, unsigned *count)
{
	struct ward_list_node *n, *next;
	struct ward_budget_slot *oldest = NULL;

	*count = 0;
	ward_list_each(&b->buckets[bucket], n, next)
	{
		if (memcmp(of_source(n)->key, key, WARD_ADDR_SOURCE_KEY) != 0)
			continue;
		if (!oldest)
			oldest = of_source(n);
		(*count)++;
	}
	return oldest;
}

static void shed(struct ward_budget *b, struct ward_budget_slot *victim,
		 enum ward_budget_reason why)
{
	ward_metric_add(&b->stats->shed[why], 1);
	victim->shed(victim, why);
	ward_budget_put(b, victim); /* in case the connection did not */
}

void ward_budget_take(struct ward_budget *b, struct ward_budget_slot *s,
		      const struct sockaddr_storage *src, ward_budget_shed_fn fn)
{
	struct ward_budget_slot *oldest;
	unsigned count;

	ward_budget_put(b, s);
	ward_addr_source_key(src, s->key);
	s->bucket = bucket_of(b, s->key);
	s->shed = fn;
	oldest = source_oldest(b, s->key, s->bucket, &count);
	if (count >= b->max_per_source)
		shed(b, oldest, WARD_BUDGET_SOURCE_LIMIT);
	if (b->queue.n >= b->max)
		shed(b, of_age(b->queue.head), WARD_BUDGET_WORKER_LIMIT);
	ward_list_add_tail(&b->queue, &s->age);
	ward_list_add_tail(&b->buckets[s->bucket], &s->source);
	s->held = true;
	ward_metric_add(&b->stats->admitted, 1);
}

void ward_budget_put(struct ward_budget *b, struct ward_budget_slot *s)
{
	if (!s->held)
		return;
	s->held = false;
	ward_metric_add(&b->stats->released, 1);
	ward_list_remove(&b->queue, &s->age);
	ward_list_remove(&b->buckets[s->bucket], &s->source);
}
