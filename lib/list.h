/* An intrusive doubly linked list with a count: the one list type for
 * everything that keeps its live connections (a worker's connection pairs,
 * the HTTP server's clients, the Workload API's and the admin socket's
 * connections). An object embeds a struct ward_list_node and is found from
 * it with ward_list_entry. The list never owns what it links. */
#ifndef WARD_LIST_H
#define WARD_LIST_H

#include <stddef.h>

struct ward_list_node {
	struct ward_list_node *prev, *next;
};

struct ward_list {
	struct ward_list_node *head, *tail;
	size_t n;
};

#define ward_list_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* Walks l; the body may remove the current node (next is read first). */
#define ward_list_each(l, node, tmp)                                                               \
	for ((node) = (l)->head; (node) && ((tmp) = (node)->next, 1); (node) = (tmp))

static inline void ward_list_add(struct ward_list *l, struct ward_list_node *n)
{
	n->prev = NULL;
	n->next = l->head;
	if (l->head)
		l->head->prev = n;
	else
		l->tail = n;
	l->head = n;
	l->n++;
}

/* Appends n: a list filled this way and emptied from its head is a queue. */
static inline void ward_list_add_tail(struct ward_list *l, struct ward_list_node *n)
{
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
	l->n++;
}

/* n must be on l. */
static inline void ward_list_remove(struct ward_list *l, struct ward_list_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
	l->n--;
}

#endif
