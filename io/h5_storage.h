/* What a dataset's storage says before it is read, for every reader of outside HDF5
 * files (weights, gtsegs, results): a filter this libhdf5 cannot decode (h5py's LZF,
 * say) is named instead of failing as "corrupt", and a chunked dataset with chunks
 * never written (they read back as the fill value, zeros) is refused, compressed or
 * not. Header-only: the engine, datasets and results readers share it. */
#ifndef MXB_IO_H5_STORAGE_H
#define MXB_IO_H5_STORAGE_H

#include <hdf5.h>
#include <stdio.h>

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

#endif
