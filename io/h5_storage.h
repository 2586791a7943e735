/* What a dataset's storage says before it is read, for every reader of outside HDF5
 * files (weights, gtsegs, results): a filter this libhdf5 cannot decode (h5py's LZF,
 * say) is named instead of failing as "corrupt", and a chunked dataset with chunks
 * never written (they read back as the fill value, zeros) is refused, compressed or
 * not. Header-only: the engine, datasets and results readers share it. */
#ifndef MXB_IO_H5_STORAGE_H
#define MXB_IO_H5_STORAGE_H

#include "io/io.h" /* MXB_DEFLATE_MAX_RATIO */

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

/* HDF5 prints its error stack to stderr on every failed call; mxb says what failed
 * in one line of its own. MXB_H5_QUIET(statements) runs them with that stack silenced
 * (unless MXB_HDF5_ERRORS is set, to see it) and then puts back whatever printing was
 * on before, so uses nest and a caller that wants HDF5's stack keeps it: the one way
 * every HDF5 reader and writer of mxb silences it (each public entry point wraps its
 * body). */
#define MXB_H5_QUIET(...)                                                                                  \
    do {                                                                                                   \
        H5E_auto2_t mxb_h5q_fn_ = NULL;                                                                    \
        void *mxb_h5q_data_ = NULL;                                                                        \
        const int mxb_h5q_on_ = !getenv("MXB_HDF5_ERRORS") &&                                              \
                                H5Eget_auto2(H5E_DEFAULT, &mxb_h5q_fn_, &mxb_h5q_data_) >= 0;             \
        if (mxb_h5q_on_) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);                                            \
        __VA_ARGS__;                                                                                       \
        if (mxb_h5q_on_) H5Eset_auto2(H5E_DEFAULT, mxb_h5q_fn_, mxb_h5q_data_);                            \
    } while (0)


/* 0 when d can be read whole; else 1 with `why` saying what is wrong. */
static inline int mxb_h5_storage_problem(hid_t d, char *why, size_t n) {
    hid_t pl = H5Dget_create_plist(d);
    if (pl < 0) return snprintf(why, n, "unreadable creation properties"), 1;
    int bad = 0;
    int nf = H5Pget_nfilters(pl);
    for (int i = 0; i < nf && !bad; i++) {
        unsigned flags = 0, cd[8];
        size_t ncd = 8;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd, sizeof name, name, NULL);
        if (id < 0 || H5Zfilter_avail(id) <= 0) {
            for (char *c = name; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
            snprintf(why, n, "is compressed with HDF5 filter %d%s%s%s, which this mxb cannot decode (store it "
                     "uncompressed or with gzip)", (int)id, name[0] ? " (" : "", name, name[0] ? ")" : "");
            bad = 1;
        }
    }
    if (!bad && H5Pget_layout(pl) == H5D_CHUNKED) {
        hsize_t cdims[32], dims[32], want = 1, have = 0;
        hid_t sp = H5Dget_space(d);
        int nd = H5Pget_chunk(pl, 32, cdims), sd = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
        if (nd < 0 || nd != sd) {
            snprintf(why, n, "has an unreadable chunk layout");
            bad = 1;
        } else {
            for (int i = 0; i < nd; i++) want *= cdims[i] ? (dims[i] + cdims[i] - 1) / cdims[i] : 0;
            if (want && (H5Dget_num_chunks(d, sp, &have) < 0 || have < want)) {
                snprintf(why, n, "is only partly stored (%llu of %llu chunks written; truncated or corrupt?)",
                         (unsigned long long)have, (unsigned long long)want);
                bad = 1;
            }
        }
        if (sp >= 0) H5Sclose(sp);
    }
    H5Pclose(pl);
    return bad;
}

/* The declared n elements of elem bytes are backed by d's storage: d was written at
 * all (a dataset created and never written reads back as its fill value, zeros), it
 * stores all n x elem bytes plainly or at least 1/MXB_DEFLATE_MAX_RATIO of them
 * compressed (so a small file cannot ask for gigabytes), and it can be read whole
 * (mxb_h5_storage_problem). 0 when so (and when n is 0); else 1 with `why` saying what
 * is wrong, to follow the dataset's name: "<path>: dataset 'x' <why>". The one check
 * of every reader of outside HDF5 files. */
static inline int mxb_h5_declared_stored(hid_t d, size_t n, size_t elem, char *why, size_t len) {
    if (!n) return 0;
    H5D_space_status_t st;
    if (H5Dget_space_status(d, &st) < 0 || st == H5D_SPACE_STATUS_NOT_ALLOCATED)
        return snprintf(why, len, "holds no data (declared but never written)"), 1;
    hid_t pl = H5Dget_create_plist(d);
    const int filtered = pl >= 0 && H5Pget_nfilters(pl) > 0;
    if (pl >= 0) H5Pclose(pl);
    const unsigned long long have = H5Dget_storage_size(d), want = (unsigned long long)n * elem;
    if (filtered ? want / MXB_DEFLATE_MAX_RATIO > have : want > have)
        return snprintf(why, len, "declares %llu bytes but stores %llu (truncated or corrupt?)", want, have), 1;
    return mxb_h5_storage_problem(d, why, len);
}

#endif
