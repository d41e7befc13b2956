#define _GNU_SOURCE
#include "parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <immintrin.h>
#  define CPU_RELAX() _mm_pause()
#else
#  define CPU_RELAX() ((void)0)
#endif

enum { MAX_THREADS = 8, ALIGN = 16 };

/* How long a helper spins for the next job before it sleeps, and how long the caller
 * spins for helpers before it yields the core: long enough for back-to-back calls, short
 * enough that a spinning thread never holds a core BLAS wants. */
static const long SPIN_NS = 20000;

typedef struct {
    nnc_range_fn fn;
    void *ctx;
    ptrdiff_t n;
} job_t;

static struct {
    pthread_mutex_t busy;   /* held by the thread running a job */
    pthread_mutex_t lock;   /* guards sleeping and waking */
    pthread_cond_t wake;
    int threads;            /* 0: not decided yet; helpers = threads - 1 */
    int started;            /* helpers running */
    int sleepers;           /* under lock */
    job_t job;              /* written before gen is raised, read after */
    atomic_long gen;        /* raised once per job */
    atomic_long done[MAX_THREADS]; /* helper i stores gen here when its range is done */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static long elapsed_ns(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000000000L + (now.tv_nsec - since->tv_nsec);
}

static void range_of(ptrdiff_t n, int part, int parts, ptrdiff_t *lo, ptrdiff_t *hi)
{
    /* Equal shares rounded up to ALIGN; the last may be shorter or empty. */
    ptrdiff_t share = ((n + parts - 1) / parts + ALIGN - 1) / ALIGN * ALIGN;
    *lo = share * part < n ? share * part : n;
    *hi = share * (part + 1) < n ? share * (part + 1) : n;
}

static void *helper(void *arg)
{
    const int me = (int)(ptrdiff_t)arg;
    /* start_helpers stored the generation before this helper's first job here */
    long seen = atomic_load(&pool.done[me]);
    for (;;) {
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (int i = 1; atomic_load_explicit(&pool.gen, memory_order_acquire) == seen; i++) {
            CPU_RELAX();
            if (i % 64 == 0 && elapsed_ns(&start) > SPIN_NS) {
                pthread_mutex_lock(&pool.lock);
                while (atomic_load(&pool.gen) == seen) {
                    pool.sleepers++;
                    pthread_cond_wait(&pool.wake, &pool.lock);
                    pool.sleepers--;
                }
                pthread_mutex_unlock(&pool.lock);
                break;
            }
        }
        seen = atomic_load_explicit(&pool.gen, memory_order_acquire);
        ptrdiff_t lo, hi;
        range_of(pool.job.n, me, pool.threads, &lo, &hi);
        if (lo < hi)
            pool.job.fn(pool.job.ctx, lo, hi);
        atomic_store_explicit(&pool.done[me], seen, memory_order_release);
    }
    return NULL;
}

/* fork() copies only the calling thread: the child has no helpers and must not wait for
 * any. prepare() holds busy so no job is half-run at the fork. */
static void before_fork(void) { pthread_mutex_lock(&pool.busy); }
static void after_fork_parent(void) { pthread_mutex_unlock(&pool.busy); }
static void after_fork_child(void)
{
    pthread_mutex_init(&pool.busy, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pool.started = 0;
    pool.sleepers = 0;
}

static int usable_cores(void)
{
    const char *env = getenv("NNCORE_THREADS");
    if (env != NULL && atoi(env) >= 1)
        return atoi(env) < MAX_THREADS ? atoi(env) : MAX_THREADS;
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int count = CPU_COUNT(&set);
        return count < 1 ? 1 : count < MAX_THREADS ? count : MAX_THREADS;
    }
#endif
    return 1;
}

int nnc_parallel_threads(void)
{
    return pool.threads ? pool.threads : usable_cores();
}

/* Called holding busy. Returns 0 when the helpers could not all be started. */
static int start_helpers(void)
{
    if (pool.threads == 0) {
        pool.threads = usable_cores();
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    }
    while (pool.started < pool.threads - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        const int me = pool.started + 1;
        atomic_store(&pool.done[me], atomic_load(&pool.gen));
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int failed = pthread_create(&thread, &attr, helper, (void *)(ptrdiff_t)me);
        pthread_attr_destroy(&attr);
        if (failed) /* run the jobs with the helpers that did start */
            return 0;
        pool.started++;
    }
    return 1;
}

void nnc_parallel_for(ptrdiff_t n, ptrdiff_t grain, nnc_range_fn fn, void *ctx)
{
    if (n < 2 * grain || n < 2 * ALIGN || nnc_parallel_threads() < 2 ||
        pthread_mutex_trylock(&pool.busy) != 0) {
        fn(ctx, 0, n);
        return;
    }
    if (!start_helpers() && pool.started == 0) {
        pthread_mutex_unlock(&pool.busy);
        fn(ctx, 0, n);
        return;
    }
    const int parts = pool.started + 1;
    pool.threads = parts;
    pool.job = (job_t){fn, ctx, n};
    pthread_mutex_lock(&pool.lock);
    const long gen = atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release) + 1;
    if (pool.sleepers)
        pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    ptrdiff_t lo, hi;
    range_of(n, 0, parts, &lo, &hi);
    fn(ctx, lo, hi);

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 1; i < parts; i++)
        for (int k = 1; atomic_load_explicit(&pool.done[i], memory_order_acquire) != gen; k++) {
            CPU_RELAX();
            if (k % 64 == 0 && elapsed_ns(&start) > SPIN_NS)
                sched_yield(); /* a helper is descheduled: let it run */
        }
    pthread_mutex_unlock(&pool.busy);
}
