/* The tunnel pool's bookkeeping; see pool.h. */
#include "agent/pool.h"

#include "lib/addr.h"

#include <netinet/in.h>
#include <string.h>

void ward_pool_key_init(struct ward_pool_key *k, const struct sockaddr *dst, uint64_t policy)
{
	ward_addr_ip(dst, &k->ip);
	k->policy = policy;
}

size_t ward_pool_load(const struct ward_pool_entry *e)
{
	if (e->mux)
		return ward_mux_streams(e->mux);
	return e->waiting ? e->waiting->n : 0;
}

static bool has_room(const struct ward_pool_entry *e)
{
	if (!e->usable)
		return false;
	if (e->mux)
		return ward_mux_can_open(e->mux);
	return ward_pool_load(e) < e->max;
}

struct ward_pool_entry *ward_pool_pick(struct ward_pool *p, const struct ward_pool_key *key)
{
	struct ward_list_node *node, *next;
	struct ward_pool_entry *opening = NULL;

	ward_list_each(&p->entries, node, next)
	{
		struct ward_pool_entry *e = ward_list_entry(node, struct ward_pool_entry, link);

		if (e->key.policy != key->policy || !ward_addr_ip_equal(&e->key.ip, &key->ip) ||
		    !has_room(e))
			continue;
		if (e->mux)
			return e; /* open now: no wait at all */
		if (!opening)
			opening = e;
	}
	return opening;
}

void ward_pool_add(struct ward_pool *p, struct ward_pool_entry *e, const struct ward_pool_key *key,
		   size_t max)
{
	e->key = *key;
	e->max = max;
	e->usable = e->pooled = true;
	e->mux = NULL;
	ward_list_add(&p->entries, &e->link);
}

void ward_pool_remove(struct ward_pool *p, struct ward_pool_entry *e)
{
	e->usable = false;
	if (!e->pooled)
		return;
	e->pooled = false;
	ward_list_remove(&p->entries, &e->link);
}

static struct ward_pool_fallback *find_mark(struct ward_pool *p, const struct sockaddr_storage *ip)
{
	for (size_t i = 0; i < p->n_fallback; i++)
		if (ward_addr_ip_equal(&p->fallback[i].ip, ip))
			return &p->fallback[i];
	return NULL;
}

bool ward_pool_fallback_mark(struct ward_pool *p, const struct sockaddr *ip, uint64_t now_ms,
			     uint64_t for_ms)
{
	struct sockaddr_storage key;
	struct ward_pool_fallback *f;
	bool news;

	ward_addr_ip(ip, &key);
	f = find_mark(p, &key);
	news = !f || f->until_ms <= now_ms;
	if (!f && p->n_fallback < WARD_POOL_FALLBACK_MAX) {
		f = &p->fallback[p->n_fallback++];
	} else if (!f) {
		f = &p->fallback[0]; /* the one that ends first makes room */
		for (size_t i = 1; i < p->n_fallback; i++)
			if (p->fallback[i].until_ms < f->until_ms)
				f = &p->fallback[i];
	}
	f->ip = key;
	f->until_ms = now_ms + for_ms;
	return news;
}

bool ward_pool_fallback_active(struct ward_pool *p, const struct sockaddr *ip, uint64_t now_ms)
{
	struct sockaddr_storage key;
	struct ward_pool_fallback *f;

	if (p->n_fallback == 0)
		return false;
	ward_addr_ip(ip, &key);
	f = find_mark(p, &key);
	return f && f->until_ms > now_ms;
}
