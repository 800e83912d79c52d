/* deadline.c — connection tracking list and the watchdog thread. */
#include "http/deadline.h"

#include "base/pb.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct deadline_conn {
    struct deadline_conn *prev, *next;
    int fd;
    double start;
    int receiving, cut;
};

struct deadline {
    double timeout;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct deadline_conn *conns;
    int stop;
    pthread_t thread;
};

static void cut(struct deadline_conn *c)
{
    static const char reply[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                "Content-Length: 0\r\n\r\n";
    /* Nothing is written to a connection while it receives, so the 408 cannot interleave
     * with a response; if the send fails the shutdown alone closes it. */
    ssize_t w = send(c->fd, reply, sizeof reply - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    shutdown(c->fd, SHUT_RDWR);
    c->cut = 1;
}

static void *watchdog_main(void *arg)
{
    deadline *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->stop) {
        double now = pb_now_monotonic();
        for (struct deadline_conn *c = d->conns; c; c = c->next)
            if (c->receiving && !c->cut && now - c->start > d->timeout)
                cut(c);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200L * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->wake, &d->lock, &ts);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

pb_status deadline_start(double timeout_s, deadline **out, char *err)
{
    deadline *d = calloc(1, sizeof *d);
    *out = NULL;
    if (!d)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    d->timeout = timeout_s;
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&d->thread, NULL, watchdog_main, d) != 0) {
        pthread_cond_destroy(&d->wake);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return pb_errf(err, PB_ERR_NOMEM, "cannot start the request-deadline thread");
    }
    *out = d;
    return PB_OK;
}

void deadline_stop(deadline *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    while (d->conns) {
        struct deadline_conn *next = d->conns->next;
        free(d->conns);
        d->conns = next;
    }
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

deadline_conn *deadline_add(deadline *d, int fd)
{
    struct deadline_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->start = pb_now_monotonic();
    c->receiving = 1;
    pthread_mutex_lock(&d->lock);
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    pthread_mutex_unlock(&d->lock);
    return c;
}

void deadline_remove(deadline *d, deadline_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&d->lock);
    free(c);
}

void deadline_receiving(deadline *d, deadline_conn *c, int receiving)
{
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->receiving = receiving;
    if (receiving)
        c->start = pb_now_monotonic();
    pthread_mutex_unlock(&d->lock);
}

int deadline_was_cut(deadline *d, deadline_conn *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&d->lock);
    int was = c->cut;
    pthread_mutex_unlock(&d->lock);
    return was;
}
