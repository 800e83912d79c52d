/* powervfs.c — the "powerloss" VFS: calls go to the default VFS; writes, truncates, syncs and
 * deletes of database and WAL files are also appended to one log, from which a power cut at
 * any point is rebuilt by replaying it: a write or truncate is pending until its file's next
 * sync, which makes every pending one durable; at the cut the pending ones are lost, or a
 * random subset of them reaches the disk. */
#include "store/powervfs.h"

#include "store/vfsshim.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POWERVFS_MAX_FILES 16

enum pop_kind { POP_WRITE, POP_TRUNCATE, POP_SYNC, POP_DELETE };

struct pop {
    int file;
    enum pop_kind kind;
    int64_t off; /* a write's offset, a truncate's new size */
    size_t len;
    unsigned char *data; /* a write's bytes */
};

/* A file of the recording, and its content when it was first opened. */
struct precfile {
    char *name;
    int existed;
    unsigned char *init;
    size_t init_len;
};

struct pfile {
    struct vfsshim_file shim; /* first: the shim's methods see a vfsshim_file */
    int idx;                  /* into powervfs_files; -1: not recorded (temporary files) */
};

static pthread_mutex_t pv_mu = PTHREAD_MUTEX_INITIALIZER;
static struct precfile pv_files[POWERVFS_MAX_FILES];
static int pv_nfiles;
static struct pop *pv_ops;
static size_t pv_nops, pv_capops;
static int pv_failed; /* out of memory while recording: materialise refuses */
static sqlite3_vfs pv_vfs;
static sqlite3_vfs *pv_real;
static sqlite3_io_methods pv_io; /* the shim's pass-through, with write, truncate, sync */

static void record(int file, enum pop_kind kind, int64_t off, const void *data, size_t len)
{
    pthread_mutex_lock(&pv_mu);
    if (pv_nops == pv_capops) {
        size_t cap = pv_capops ? pv_capops * 2 : 4096;
        struct pop *p = realloc(pv_ops, cap * sizeof *p);
        if (!p) {
            pv_failed = 1;
            pthread_mutex_unlock(&pv_mu);
            return;
        }
        pv_ops = p;
        pv_capops = cap;
    }
    struct pop *o = &pv_ops[pv_nops];
    *o = (struct pop){.file = file, .kind = kind, .off = off, .len = len};
    if (data && len) {
        if (!(o->data = malloc(len))) {
            pv_failed = 1;
            pthread_mutex_unlock(&pv_mu);
            return;
        }
        memcpy(o->data, data, len);
    }
    pv_nops++;
    pthread_mutex_unlock(&pv_mu);
}

/* The recorded file named name (added, with its content on disk now, when new); -1 when the
 * table is full or memory short. Called with pv_mu held. */
static int file_index(const char *name)
{
    for (int i = 0; i < pv_nfiles; i++)
        if (!strcmp(pv_files[i].name, name))
            return i;
    if (pv_nfiles == POWERVFS_MAX_FILES)
        return -1;
    struct precfile *f = &pv_files[pv_nfiles];
    memset(f, 0, sizeof *f);
    if (!(f->name = strdup(name)))
        return -1;
    FILE *in = fopen(name, "rb");
    if (in) {
        f->existed = 1;
        unsigned char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
            unsigned char *p = realloc(f->init, f->init_len + n);
            if (!p) {
                pv_failed = 1;
                break;
            }
            memcpy(p + f->init_len, buf, n);
            f->init = p;
            f->init_len += n;
        }
        fclose(in);
    }
    return pv_nfiles++;
}

#define PF(f) ((struct pfile *)(f))
#define REAL  VFSSHIM_REAL

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int rc = REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
    if (rc == SQLITE_OK && PF(f)->idx >= 0)
        record(PF(f)->idx, POP_WRITE, off, buf, (size_t)n);
    return rc;
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = REAL(f)->pMethods->xTruncate(REAL(f), size);
    if (rc == SQLITE_OK && PF(f)->idx >= 0)
        record(PF(f)->idx, POP_TRUNCATE, size, NULL, 0);
    return rc;
}

static int f_sync(sqlite3_file *f, int flags)
{
    int rc = REAL(f)->pMethods->xSync(REAL(f), flags);
    if (rc == SQLITE_OK && PF(f)->idx >= 0)
        record(PF(f)->idx, POP_SYNC, 0, NULL, 0);
    return rc;
}

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    struct pfile *p = PF(f);
    p->shim.real = (sqlite3_file *)&p[1];
    p->idx = -1;
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))) {
        pthread_mutex_lock(&pv_mu);
        p->idx = file_index(name);
        pthread_mutex_unlock(&pv_mu);
        if (p->idx < 0)
            return SQLITE_CANTOPEN;
    }
    int rc = pv_real->xOpen(pv_real, name, p->shim.real, flags, out_flags);
    p->shim.base.pMethods = rc == SQLITE_OK && p->shim.real->pMethods ? &pv_io : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    int rc = pv_real->xDelete(pv_real, name, sync_dir);
    if (rc == SQLITE_OK) {
        int idx = -1;
        pthread_mutex_lock(&pv_mu);
        for (int i = 0; i < pv_nfiles; i++)
            if (!strcmp(pv_files[i].name, name))
                idx = i;
        pthread_mutex_unlock(&pv_mu);
        if (idx >= 0)
            record(idx, POP_DELETE, 0, NULL, 0);
    }
    return rc;
}

void powervfs_stop(void)
{
    pthread_mutex_lock(&pv_mu);
    for (size_t i = 0; i < pv_nops; i++)
        free(pv_ops[i].data);
    free(pv_ops);
    pv_ops = NULL;
    pv_nops = pv_capops = 0;
    for (int i = 0; i < pv_nfiles; i++) {
        free(pv_files[i].name);
        free(pv_files[i].init);
    }
    pv_nfiles = 0;
    pv_failed = 0;
    pthread_mutex_unlock(&pv_mu);
}

pb_status powervfs_start(char *err)
{
    powervfs_stop();
    pthread_mutex_lock(&pv_mu);
    int rc = SQLITE_OK;
    if (!pv_real) {
        sqlite3_vfs *real = sqlite3_vfs_find(NULL);
        if (!real || real->iVersion < 2) {
            pthread_mutex_unlock(&pv_mu);
            return pb_errf(err, PB_ERR_DB, "powervfs: no default SQLite VFS to wrap");
        }
        vfsshim_vfs_init(&pv_vfs, real, POWERVFS_NAME, (int)sizeof(struct pfile));
        pv_vfs.xOpen = v_open;
        pv_vfs.xDelete = v_delete;
        vfsshim_io_init(&pv_io);
        pv_io.xWrite = f_write;
        pv_io.xTruncate = f_truncate;
        pv_io.xSync = f_sync;
        pv_real = real;
        rc = sqlite3_vfs_register(&pv_vfs, 0);
        if (rc != SQLITE_OK)
            pv_real = NULL;
    }
    pthread_mutex_unlock(&pv_mu);
    if (rc != SQLITE_OK)
        return pb_errf(err, PB_ERR_DB, "powervfs: sqlite3_vfs_register failed (%s)",
                       sqlite3_errstr(rc));
    return PB_OK;
}

uint64_t powervfs_ops(void)
{
    pthread_mutex_lock(&pv_mu);
    uint64_t n = pv_nops;
    pthread_mutex_unlock(&pv_mu);
    return n;
}

pb_status powervfs_syncs(uint64_t **out, size_t *n, char *err)
{
    pthread_mutex_lock(&pv_mu);
    size_t k = 0;
    uint64_t *v = malloc((pv_nops ? pv_nops : 1) * sizeof *v);
    for (size_t i = 0; v && i < pv_nops; i++)
        if (pv_ops[i].kind == POP_SYNC)
            v[k++] = i;
    pthread_mutex_unlock(&pv_mu);
    if (!v)
        return pb_errf(err, PB_ERR_NOMEM, "out of memory");
    *out = v;
    *n = k;
    return PB_OK;
}

/* One file's image while replaying: the durable content and the ops pending since its last
 * sync. */
struct image {
    int exists;
    unsigned char *data;
    size_t len, cap;
    size_t *pending, n_pending, cap_pending;
};

static int image_resize(struct image *im, size_t len)
{
    if (len > im->cap) {
        size_t cap = im->cap ? im->cap : 65536;
        while (cap < len)
            cap *= 2;
        unsigned char *p = realloc(im->data, cap);
        if (!p)
            return -1;
        im->data = p;
        im->cap = cap;
    }
    if (len > im->len)
        memset(im->data + im->len, 0, len - im->len);
    im->len = len;
    return 0;
}

/* Applies the pending ops of im (indices into pv_ops) to its durable content. */
static int image_sync(struct image *im)
{
    for (size_t i = 0; i < im->n_pending; i++) {
        const struct pop *o = &pv_ops[im->pending[i]];
        if (o->kind == POP_TRUNCATE) {
            if ((size_t)o->off < im->len)
                im->len = (size_t)o->off;
            else if (image_resize(im, (size_t)o->off) != 0)
                return -1;
        } else {
            size_t end = (size_t)o->off + o->len;
            if (end > im->len && image_resize(im, end) != 0)
                return -1;
            memcpy(im->data + o->off, o->data, o->len);
        }
    }
    im->n_pending = 0;
    im->exists = 1;
    return 0;
}

static int image_pend(struct image *im, size_t op)
{
    if (im->n_pending == im->cap_pending) {
        size_t cap = im->cap_pending ? im->cap_pending * 2 : 256;
        size_t *p = realloc(im->pending, cap * sizeof *p);
        if (!p)
            return -1;
        im->pending = p;
        im->cap_pending = cap;
    }
    im->pending[im->n_pending++] = op;
    return 0;
}

static pb_status write_image(const struct image *im, const char *name, const char *dir, char *err)
{
    const char *base = strrchr(name, '/');
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, base ? base + 1 : name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return pb_errf(err, PB_ERR_IO, "%s: cannot create", path);
    int ok = fwrite(im->data ? (const void *)im->data : "", 1, im->len, f) == im->len;
    ok = (fclose(f) == 0) && ok;
    return ok ? PB_OK : pb_errf(err, PB_ERR_IO, "%s: cannot write", path);
}

/* The pending ops that reach the disk anyway at the cut: none when seed is 0, else each with
 * probability 1/2 (xorshift from seed), in their order. */
static int image_cut(struct image *im, uint64_t *rng, size_t *survived)
{
    if (!*rng) {
        im->n_pending = 0;
        return 0;
    }
    size_t kept = 0;
    for (size_t i = 0; i < im->n_pending; i++) {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        if (*rng & 1)
            im->pending[kept++] = im->pending[i];
    }
    im->n_pending = kept;
    *survived += kept;
    if (!kept)
        return 0;
    int existed = im->exists;
    if (image_sync(im) != 0)
        return -1;
    /* A file never synced exists only if its directory entry reached the disk: assume not
     * (its data blocks may have, which changes nothing for a file nobody can find). */
    im->exists = existed;
    return 0;
}

pb_status powervfs_materialise(uint64_t cut, uint64_t seed, const char *dir, size_t *survived,
                               char *err)
{
    size_t kept = 0;
    uint64_t rng = seed ? seed * 0x9E3779B97F4A7C15ull | 1 : 0;
    struct image im[POWERVFS_MAX_FILES];
    pb_status rc = PB_OK;
    memset(im, 0, sizeof im);
    pthread_mutex_lock(&pv_mu);
    if (pv_failed) {
        rc = pb_errf(err, PB_ERR_NOMEM, "powervfs: the recording ran out of memory");
        goto done;
    }
    if (cut > pv_nops) {
        rc = pb_errf(err, PB_ERR_INVALID, "powervfs: cut %llu is past the %zu operations recorded",
                     (unsigned long long)cut, pv_nops);
        goto done;
    }
    for (int i = 0; i < pv_nfiles; i++) {
        im[i].exists = pv_files[i].existed;
        if (image_resize(&im[i], pv_files[i].init_len) != 0)
            goto nomem;
        if (pv_files[i].init_len)
            memcpy(im[i].data, pv_files[i].init, pv_files[i].init_len);
    }
    for (size_t k = 0; k < cut; k++) {
        const struct pop *o = &pv_ops[k];
        struct image *m = &im[o->file];
        switch (o->kind) {
        case POP_WRITE:
        case POP_TRUNCATE:
            if (image_pend(m, k) != 0)
                goto nomem;
            break;
        case POP_SYNC:
            if (image_sync(m) != 0)
                goto nomem;
            break;
        case POP_DELETE: /* the unix VFS unlinks at once: treated as durable */
            m->exists = 0;
            m->len = 0;
            m->n_pending = 0;
            break;
        }
    }
    for (int i = 0; i < pv_nfiles; i++)
        if (image_cut(&im[i], &rng, &kept) != 0)
            goto nomem;
    for (int i = 0; rc == PB_OK && i < pv_nfiles; i++)
        if (im[i].exists)
            rc = write_image(&im[i], pv_files[i].name, dir, err);
    if (survived)
        *survived = kept;
    goto done;
nomem:
    rc = pb_errf(err, PB_ERR_NOMEM, "out of memory");
done:
    pthread_mutex_unlock(&pv_mu);
    for (int i = 0; i < POWERVFS_MAX_FILES; i++) {
        free(im[i].data);
        free(im[i].pending);
    }
    return rc;
}
