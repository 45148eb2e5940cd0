/* The budget of connections not yet proved; the contract is in budget.h. */
#include "lib/budget.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* The single writer's increment (the counters are read elsewhere). */
static void count(atomic_ullong *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* FNV-1a over the seeded key. */
static uint32_t bucket_of(const struct ward_budget *b, const uint8_t key[WARD_BUDGET_KEY])
{
	uint32_t h = 2166136261u ^ b->seed;

	for (int i = 0; i < WARD_BUDGET_KEY; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % WARD_BUDGET_BUCKETS;
}

void ward_budget_init(struct ward_budget *b, unsigned max, unsigned max_per_key,
		      struct ward_budget_counts *counts)
{
	memset(b, 0, sizeof(*b));
	b->counts = counts;
	ward_budget_set_max(b, max, max_per_key);
	if (getrandom(&b->seed, sizeof(b->seed), GRND_NONBLOCK) != sizeof(b->seed))
		b->seed = (uint32_t)(uintptr_t)b;
}

void ward_budget_set_max(struct ward_budget *b, unsigned max, unsigned max_per_key)
{
	b->max = max ? max : 1;
	b->max_per_key = max_per_key ? max_per_key : 1;
}

static struct ward_budget_slot *of_age(struct ward_list_node *n)
{
	return ward_list_entry(n, struct ward_budget_slot, age);
}

static struct ward_budget_slot *of_key(struct ward_list_node *n)
{
	return ward_list_entry(n, struct ward_budget_slot, key);
}

/* The key's oldest slot, and how many it holds. */
static struct ward_budget_slot *key_oldest(struct ward_budget *b,
					   const uint8_t key[WARD_BUDGET_KEY], uint32_t bucket,
					   unsigned *n_held)
{
	struct ward_list_node *n, *next;
	struct ward_budget_slot *oldest = NULL;

	*n_held = 0;
	ward_list_each(&b->buckets[bucket], n, next)
	{
		if (memcmp(of_key(n)->id, key, WARD_BUDGET_KEY) != 0)
			continue;
		if (!oldest)
			oldest = of_key(n);
		(*n_held)++;
	}
	return oldest;
}

static void shed(struct ward_budget *b, struct ward_budget_slot *victim,
		 enum ward_budget_reason why)
{
	count(&b->counts->shed[why]);
	victim->shed(victim, why);
	ward_budget_put(b, victim); /* in case the connection did not */
}

void ward_budget_take(struct ward_budget *b, struct ward_budget_slot *s,
		      const uint8_t key[WARD_BUDGET_KEY], ward_budget_shed_fn fn)
{
	struct ward_budget_slot *oldest;
	unsigned n_held;

	ward_budget_put(b, s);
	memcpy(s->id, key, WARD_BUDGET_KEY);
	s->bucket = bucket_of(b, s->id);
	s->shed = fn;
	if (ward_budget_held(b) >= b->max) {
		oldest = key_oldest(b, s->id, s->bucket, &n_held);
		if (n_held >= b->max_per_key)
			shed(b, oldest, WARD_BUDGET_KEY_LIMIT);
		else
			shed(b, of_age(b->silent.head ? b->silent.head : b->heard.head),
			     WARD_BUDGET_FULL);
	}
	ward_list_add_tail(&b->silent, &s->age);
	ward_list_add_tail(&b->buckets[s->bucket], &s->key);
	s->held = true;
	s->heard = false;
	count(&b->counts->admitted);
}

void ward_budget_heard(struct ward_budget *b, struct ward_budget_slot *s)
{
	if (!s->held || s->heard)
		return;
	s->heard = true;
	ward_list_remove(&b->silent, &s->age);
	ward_list_add_tail(&b->heard, &s->age);
}

void ward_budget_put(struct ward_budget *b, struct ward_budget_slot *s)
{
	if (!s->held)
		return;
	s->held = false;
	count(&b->counts->released);
	ward_list_remove(s->heard ? &b->heard : &b->silent, &s->age);
	ward_list_remove(&b->buckets[s->bucket], &s->key);
}
