#define _GNU_SOURCE
#include "blas.h"

nnc_blas64_t nnc_blas64;

#if defined(__linux__) || defined(__FreeBSD__)

#include <dlfcn.h>
#include <link.h>
#include <string.h>

/* Symbol name patterns of ILP64 OpenBLAS builds, most specific first. */
static const char *const PATTERNS[][2] = {{"scipy_", "_64_"}, {"", "_64_"}};

enum { MAX_CANDIDATES = 16, PATH_LEN = sizeof(nnc_blas64.path) };

typedef struct {
    int count;
    char paths[MAX_CANDIDATES][PATH_LEN];
} candidates_t;

/* Collects the file names of loaded libraries that look like a BLAS; they are opened
 * only after the walk, outside the loader's lock that dl_iterate_phdr holds. */
static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
    candidates_t *c = data;
    const char *base;
    (void)size;
    if (info->dlpi_name == NULL)
        return 0;
    /* The file's name, not its folders: a checkout under a path containing "blas" must
     * not make every library in it a candidate. */
    base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strstr(base, "blas") && c->count < MAX_CANDIDATES &&
        strlen(info->dlpi_name) < PATH_LEN)
        strcpy(c->paths[c->count++], info->dlpi_name);
    return 0;
}

static void *symbol(void *lib, const char *prefix, const char *name, const char *suffix)
{
    char full[64];
    strcpy(full, prefix);
    strcat(full, name);
    strcat(full, suffix);
    return dlsym(lib, full);
}

int nnc_blas64_find(void)
{
    static int searched;
    static candidates_t c; /* 16 KiB: kept off the stack */
    if (searched)
        return nnc_blas64.sgemm != NULL;
    searched = 1;
    c.count = 0;
    dl_iterate_phdr(collect, &c);
    for (int i = 0; i < c.count; i++) {
        /* RTLD_NOLOAD: only a library that is already loaded; the handle is kept. */
        void *lib = dlopen(c.paths[i], RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
        if (lib == NULL)
            continue;
        for (size_t p = 0; p < sizeof(PATTERNS) / sizeof(PATTERNS[0]); p++) {
            const char *pre = PATTERNS[p][0], *suf = PATTERNS[p][1];
            void *sgemm = symbol(lib, pre, "sgemm", suf);
            void *dgemm = symbol(lib, pre, "dgemm", suf);
            void *sgemv = symbol(lib, pre, "sgemv", suf);
            void *dgemv = symbol(lib, pre, "dgemv", suf);
            if (sgemm && dgemm && sgemv && dgemv) {
                nnc_blas64.sgemm = (nnc_sgemm64_fn)sgemm;
                nnc_blas64.dgemm = (nnc_dgemm64_fn)dgemm;
                nnc_blas64.sgemv = (nnc_sgemv64_fn)sgemv;
                nnc_blas64.dgemv = (nnc_dgemv64_fn)dgemv;
                strcpy(nnc_blas64.path, c.paths[i]);
                return 1;
            }
        }
        dlclose(lib);
    }
    return 0;
}

#else /* no dl_iterate_phdr: the kernels keep scipy's BLAS */

int nnc_blas64_find(void) { return 0; }

#endif
