/* Shared inside datasets/ only. */
#ifndef MXB_DATASETS_INTERNAL_H
#define MXB_DATASETS_INTERNAL_H

#include "datasets/datasets.h"
#include "io/io.h"

#include <hdf5.h>

enum { KIND_IMAGENET = 1, KIND_SEGMENTATION = 2 };

struct mxb_dataset {
    int kind;
    char *path;           /* the folder or the .mat file, as given */
    int total;            /* items in the dataset */
    char **ids;           /* [total]: ImageNet relative paths, segmentation indices */
    int *labels;          /* [total] or NULL */
    int class_folders;    /* ImageFolder layout: how many class folders; 0 otherwise */
    /* segmentation */
    hid_t file;
    hobj_ref_t *img_refs, *gt_refs;
    /* the selection: positions -> item indices, ascending */
    int *sel;
    int nsel, cursor;
    size_t max_pixels;
};

/* A dataset with total items, every one selected; ids/labels left NULL. */
mxb_dataset *mxb_dataset_alloc(int kind, const char *path, int total);
int mxb_imagenet_load(mxb_dataset *d, int item, mxb_sample *s, char *err, size_t errlen);
int mxb_segmentation_load(mxb_dataset *d, int item, mxb_sample *s, char *err, size_t errlen);
void mxb_segmentation_release(mxb_dataset *d);

#endif
