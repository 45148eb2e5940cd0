/* libcurl multi-socket on libuv; see curl_loop.h. */
#include "lib/curl_loop.h"

#include <stdbool.h>
#include <stdlib.h>

#include "lib/list.h"

struct ward_curl_loop {
	uv_loop_t *loop;
	CURLM *multi;	     /* owned */
	uv_timer_t timer;    /* curl's own timeouts */
	struct ward_list xs; /* transfers in flight */
	int pending_closes;  /* handles not yet closed; freed at zero */
	bool stopping;
};

/* One transfer in flight, found from its easy handle by CURLOPT_PRIVATE. */
struct transfer {
	struct ward_list_node link;
	CURL *easy;
	ward_curl_done_fn done;
	void *arg;
};

/* One socket curl asked us to watch. Freed in its close callback. */
struct watched {
	uv_poll_t poll;
	curl_socket_t fd;
	struct ward_curl_loop *l;
};

static void release(struct ward_curl_loop *l)
{
	if (l->pending_closes > 0 || !l->stopping)
		return;
	curl_multi_cleanup(l->multi);
	free(l);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct ward_curl_loop *l = h->data;

	l->pending_closes--;
	release(l);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct watched *w = h->data;
	struct ward_curl_loop *l = w->l;

	free(w);
	l->pending_closes--;
	release(l);
}

/* Hands every finished transfer back to its owner. A done callback may add
 * or remove transfers or free the loop: the multi handle stays valid until
 * the handles have closed, and nothing more is dispatched once stopping. */
static void check_done(struct ward_curl_loop *l)
{
	CURLMsg *m;
	int left;

	while (!l->stopping && (m = curl_multi_info_read(l->multi, &left))) {
		struct transfer *t = NULL;
		CURL *easy = m->easy_handle;
		CURLcode res = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
		curl_multi_remove_handle(l->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (!t)
			continue;
		ward_list_remove(&l->xs, &t->link);
		t->done(easy, res, t->arg);
		free(t);
	}
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct watched *w = p->data;
	struct ward_curl_loop *l = w->l;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(l->multi, w->fd, flags, &running);
	check_done(l);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct ward_curl_loop *l = userp;
	struct watched *w = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (w) {
			curl_multi_assign(l->multi, fd, NULL);
			l->pending_closes++;
			uv_close((uv_handle_t *)&w->poll, on_poll_closed);
		}
		return 0;
	}
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w || uv_poll_init_socket(l->loop, &w->poll, fd) != 0) {
			free(w);
			return -1;
		}
		w->fd = fd;
		w->l = l;
		w->poll.data = w;
		curl_multi_assign(l->multi, fd, w);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&w->poll, events, on_poll);
	return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
	struct ward_curl_loop *l = t->data;
	int running;

	curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(l);
}

/* curl wants to be called back after timeout_ms (0: on the next loop turn,
 * never from inside this callback). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct ward_curl_loop *l = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&l->timer);
	else
		uv_timer_start(&l->timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

int ward_curl_loop_new(uv_loop_t *loop, struct ward_curl_loop **out)
{
	struct ward_curl_loop *l = calloc(1, sizeof(*l));

	ENSURE(l, WARD_ERR_NOMEM, "curl loop");
	l->loop = loop;
	l->multi = curl_multi_init();
	if (!l->multi) {
		free(l);
		return ward_err_set(WARD_ERR_NOMEM, "curl multi handle");
	}
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	*out = l;
	return 0;
}

int ward_curl_loop_add(struct ward_curl_loop *l, CURL *easy, ward_curl_done_fn done, void *arg)
{
	struct transfer *t = calloc(1, sizeof(*t));

	ENSURE(t, WARD_ERR_NOMEM, "curl transfer");
	*t = (struct transfer){.easy = easy, .done = done, .arg = arg};
	if (l->stopping || curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK ||
	    curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(t);
		return ward_err_set(WARD_ERR_UNSUPPORTED, "curl: cannot start a transfer");
	}
	ward_list_add(&l->xs, &t->link);
	return 0;
}

void ward_curl_loop_remove(struct ward_curl_loop *l, CURL *easy)
{
	struct transfer *t = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
	if (!t)
		return;
	curl_multi_remove_handle(l->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	ward_list_remove(&l->xs, &t->link);
	free(t);
}

void ward_curl_loop_free(struct ward_curl_loop *l)
{
	struct ward_list_node *n, *tmp;

	if (!l || l->stopping)
		return;
	ward_list_each(&l->xs, n, tmp)
	{
		struct transfer *t = ward_list_entry(n, struct transfer, link);
		CURL *easy = t->easy;

		ward_curl_loop_remove(l, easy);
		curl_easy_cleanup(easy);
	}
	l->stopping = true;
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, NULL);
	l->pending_closes++;
	uv_close((uv_handle_t *)&l->timer, on_timer_closed);
}
