/*
 * datasets — readers that yield samples, the shared preprocessing, and the
 * built-in synthetic benchmark.
 *
 * A sample is a uint8 RGB image (H x W x 3, row-major), a class label (-1 when the
 * dataset has none), an optional uint8 mask (H x W, values 0/1) and an id string.
 * Every reader sits behind one iterator (mxb_dataset): open, select a subset,
 * then mxb_dataset_next() or random access with mxb_dataset_get().
 *
 * Readers
 *   ImageNet validation  a folder of JPEG/PNG files, in one of two layouts:
 *     class folders   root/nXXXXXXXX/NAME.JPEG; label = index of the folder name in the
 *                     sorted (strcmp) list of all sub-folders, files sorted within
 *                     each folder, sub-folders walked recursively — what torchvision's
 *                     ImageFolder does. Used when no label file is given.
 *     flat + labels   root/NAME.JPEG with a label file; the samples are the image files
 *                     of root (not recursive) in sorted (strcmp) order. The label file
 *                     is either
 *                       A) one integer per line, the i-th line for the i-th file in
 *                          sorted order (ILSVRC2012_validation_ground_truth.txt's
 *                          shape; note that the devkit's file holds 1-based
 *                          ILSVRC2012_IDs in the devkit's synset order, not the
 *                          0-based sorted-wnid index a torchvision model predicts:
 *                          convert it first), or
 *                       B) "filename label" per line (the common val.txt, 0-based);
 *                          every image file must have a line, extra lines are ignored.
 *                     The format is taken from the first non-blank line; a line that
 *                     does not parse, a negative label, a duplicate name, a missing
 *                     name or a count mismatch (A) is an error naming the line.
 *     The file's content decides JPEG or PNG (magic bytes); names ending .jpg,
 *     .jpeg, .png (any case) are listed. Ids are the paths relative to root.
 *   ImageNet-segmentation  gtsegs_ijcv.mat, a MATLAB v7.3 file (HDF5 behind a
 *     512-byte userblock): /value/img and /value/gt are N x 1 arrays of object
 *     references; img[i] -> uint8 [3, W, H] (MATLAB's column-major H x W x 3, read
 *     back transposed); gt[i] -> a 1 x 1 cell (an object-reference array) whose one
 *     reference -> the mask [W, H]. Exactly what Chefer's Imagenet_Segmentation does
 *     with h5py. A 2-D image [W, H] is taken as grey. Ids are the decimal index.
 *     Labels are -1 (the file has none).
 *
 * Pixel formats (as the reference's Image.open(...).convert('RGB')): grey, grey +
 * alpha, palette, RGBA and CMYK/YCCK JPEG are converted to RGB the way PIL 9
 * converts them (alpha dropped, CMYK through PIL's cmyk2rgb on Adobe-inverted
 * data). 16-bit PNGs are REJECTED (PIL itself is inconsistent there: 16-bit RGB
 * keeps the high byte, 16-bit grey clips at 255; ImageNet has none). JPEGs other
 * than 8-bit, 1/3/4 components are rejected. A JPEG that ends early is an error
 * (PIL raises "image file is truncated"); libjpeg's other warnings are not (PIL
 * ignores them too).
 *
 * Limits: an image larger than max_pixels is refused before anything is allocated
 * for it. The default is MXB_MAX_PIXELS (2^26), or the environment variable
 * MXB_MAX_PIXELS when set; mxb_dataset_set_max_pixels and `[run] max_pixels` set it
 * per dataset, and the functions below take it as an argument (0: the default).
 * Besides, a file must be able to hold what it declares: a PNG whose raw rows are
 * more than 1032 x the file (deflate's ceiling) is a decompression bomb, and a
 * gtsegs image or mask must be stored (1032:1 at best when compressed). JPEG has no
 * such bound (its entropy coding can pack whole blocks into a few bits), so for
 * JPEG max_pixels is the bound.
 *
 * Errors: functions that can fail return 0 on success and -1 on failure, and write
 * a one-line message naming the file and the thing into err[errlen].
 */
#ifndef MXB_DATASETS_H
#define MXB_DATASETS_H

#include <stddef.h>
#include <stdint.h>

#define MXB_MAX_PIXELS ((size_t)1 << 26) /* 67 Mpixel: ImageNet's largest is ~ 2.4 Mpixel */
/* MXB_MAX_PIXELS, or the environment's MXB_MAX_PIXELS (a positive integer) when set. */
size_t mxb_default_max_pixels(void);

typedef struct {
    uint8_t *rgb;   /* h * w * 3 */
    uint8_t *mask;  /* h * w, 0/1, or NULL */
    int h, w;
    int label;      /* -1 when unknown */
    char id[256];
} mxb_sample;

void mxb_sample_free(mxb_sample *s); /* frees the buffers, keeps nothing; NULL-safe */

typedef struct mxb_dataset mxb_dataset;

/* ImageNet validation. labels_file NULL: class-folder layout; else flat + labels. */
int mxb_imagenet_open(const char *root, const char *labels_file, mxb_dataset **out,
                      char *err, size_t errlen);
/* ImageNet-segmentation (gtsegs_ijcv.mat or a file of the same structure). */
int mxb_segmentation_open(const char *path, mxb_dataset **out, char *err, size_t errlen);
/* By the path: a folder -> ImageNet (labels_file as above), a file -> segmentation. */
int mxb_dataset_open(const char *path, const char *labels_file, mxb_dataset **out,
                     char *err, size_t errlen);
void mxb_dataset_close(mxb_dataset *d);
/* The image files (by name, as above) of root and its sub-folders, recursively, in
 * the class-folder layout's order (by folder, then file name): *ids[*count] malloc'd
 * paths relative to root, the array too. A folder without any is an error. */
int mxb_image_folder_list(const char *root, char ***ids, int *count, char *err, size_t errlen);

/* Samples in the current selection (all, until a select_* call narrows it). */
int mxb_dataset_size(const mxb_dataset *d);
/* Samples the file holds, before any selection. */
int mxb_dataset_total(const mxb_dataset *d);
/* Position i of the selection -> index into the whole dataset. */
int mxb_dataset_index(const mxb_dataset *d, int i);
/* Position i of the selection -> its id and label (-1: none), without decoding. */
const char *mxb_dataset_id(const mxb_dataset *d, int i);
int mxb_dataset_label(const mxb_dataset *d, int i);
/* The class folders of an ImageFolder-layout dataset (labels are their sorted index),
 * 0 for a flat folder with a label file or a segmentation file. */
int mxb_dataset_class_folders(const mxb_dataset *d);
void mxb_dataset_set_max_pixels(mxb_dataset *d, size_t max_pixels);

/* Reads the i-th sample of the selection into s (s's old buffers are not freed). */
int mxb_dataset_get(mxb_dataset *d, int i, mxb_sample *s, char *err, size_t errlen);
/* The iterator: 1 = a sample in s, 0 = end, -1 = this sample failed (err says why;
 * the next call moves on to the following one). */
int mxb_dataset_next(mxb_dataset *d, mxb_sample *s, char *err, size_t errlen);
void mxb_dataset_rewind(mxb_dataset *d);

/* Subsets. Each narrows the current selection, keeping dataset order, and rewinds.
 *   first      the first n (all if fewer)
 *   every      positions offset, offset + k, offset + 2k, ...
 *   ids        the samples whose id, file name, or file name without extension is
 *              one of ids[]; an id that matches nothing is an error
 *   ids_file   the same, one id per line (blank lines and #-comments skipped)
 *   random     n distinct samples drawn with mxb_splitmix64 (io/io.h) seeded with seed:
 *              a partial Fisher-Yates shuffle of the positions (position i swaps
 *              with i + next() % m, m = size - i), a draw >= 2^64 - (2^64 mod m)
 *              redrawn, then sorted back into dataset order. Same seed, same
 *              selection, on every platform. */
int mxb_dataset_select_first(mxb_dataset *d, int n, char *err, size_t errlen);
int mxb_dataset_select_every(mxb_dataset *d, int k, int offset, char *err, size_t errlen);
int mxb_dataset_select_ids(mxb_dataset *d, const char *const *ids, int n, char *err, size_t errlen);
int mxb_dataset_select_ids_file(mxb_dataset *d, const char *path, char *err, size_t errlen);
int mxb_dataset_select_random(mxb_dataset *d, int n, uint64_t seed, char *err, size_t errlen);

/* ---- image files ------------------------------------------------------------ */

/* Decodes a JPEG or PNG held in memory into *rgb (malloc'd h * w * 3). name is
 * used in messages only. */
int mxb_image_decode(const uint8_t *buf, size_t len, const char *name, size_t max_pixels,
                     uint8_t **rgb, int *h, int *w, char *err, size_t errlen);
int mxb_image_read(const char *path, size_t max_pixels, uint8_t **rgb, int *h, int *w,
                   char *err, size_t errlen);

/* ---- gtsegs-structured files ------------------------------------------------- */

/* Writes a file with the structure of gtsegs_ijcv.mat (MATLAB v7.3 header in a
 * 512-byte userblock, /value a MATLAB struct with MATLAB_fields, img and gt cells
 * of references into #refs#, #refs#/a the canonical empty array, transposed storage,
 * MATLAB_class attributes, no timestamps; tools/make_gtsegs.py writes the same), so
 * the real reader reads it. Append images one at a time; close writes the reference arrays
 * and frees the writer whatever happens. */
typedef struct mxb_gtsegs_writer mxb_gtsegs_writer;
int mxb_gtsegs_create(const char *path, mxb_gtsegs_writer **out, char *err, size_t errlen);
int mxb_gtsegs_append(mxb_gtsegs_writer *w, const uint8_t *rgb, const uint8_t *mask,
                      int h, int wd, char *err, size_t errlen);
int mxb_gtsegs_close(mxb_gtsegs_writer *w, char *err, size_t errlen);

/* ---- preprocessing (torchvision on PIL images) ------------------------------- */

/* PIL's filter numbers. */
typedef enum {
    MXB_FILTER_NEAREST = 0,
    MXB_FILTER_BILINEAR = 2,
    MXB_FILTER_BICUBIC = 3,
} mxb_filter;

/* PIL's Image.resize, bit-exact: for bilinear/bicubic the separable convolution
 * with the support scaled by the downscale factor (antialiasing), bicubic a = -0.5,
 * coefficients in 22-bit fixed point and a uint8 rounding after the horizontal
 * then the vertical pass; for nearest, PIL's affine nearest (source x = (x + 0.5)
 * * in / out accumulated in double, truncated). channels 1..4. */
int mxb_resize(const uint8_t *in, int h, int w, int channels, uint8_t *out, int oh, int ow,
               mxb_filter filter, char *err, size_t errlen);
/* torchvision CenterCrop: top = int(round((h - ch) / 2.0)) with Python's round
 * (half to even), likewise left; an image smaller than the crop is zero-padded
 * first (left/top get (ch - h) / 2, as torchvision pads). */
void mxb_center_crop(const uint8_t *in, int h, int w, int channels, uint8_t *out, int ch, int cw);
/* ToTensor + Normalize: out[c][y][x] = (in / 255 - mean[c]) / std[c] in float, as
 * torch computes it. mean/std NULL: ToTensor only ([0, 1]). */
void mxb_to_tensor(const uint8_t *rgb, int h, int w, const float *mean, const float *std, float *chw);
/* Normalize in place, for an un-normalised [0, 1] image (the perturbation test). */
void mxb_normalize(float *chw, int h, int w, const float mean[3], const float std[3]);

typedef struct {
    int size;          /* Resize target: the short side, or the side when square */
    int square;        /* 1: Resize((size, size)); 0: Resize(size) keeps the aspect */
    int crop;          /* CenterCrop side; 0: none */
    mxb_filter filter; /* image filter; masks always use NEAREST */
    float mean[3], std[3];
} mxb_preprocess;

/* Resize(256, BICUBIC) + CenterCrop(224) + ImageNet mean/std: DeiT's and ViM's
 * evaluation transform, and how the fixtures' inputs were made. */
mxb_preprocess mxb_preprocess_imagenet(void);
/* Resize((224, 224)) (BILINEAR, torchvision's default) and no crop, as
 * imagenet_seg_eval.py; ImageNet mean/std (the script itself normalises with
 * 0.5/0.5, right for its ViT-B; set mean/std to match the model). */
mxb_preprocess mxb_preprocess_segmentation(void);
int mxb_preprocess_out_size(const mxb_preprocess *p);
/* out_rgb [s*s*3] (the resized, cropped uint8 image; may be NULL) and out_chw
 * [3*s*s] (normalised float; may be NULL), s = mxb_preprocess_out_size(p). */
int mxb_preprocess_image(const mxb_preprocess *p, const uint8_t *rgb, int h, int w,
                         uint8_t *out_rgb, float *out_chw, char *err, size_t errlen);
/* The same geometry with NEAREST, out [s*s]. */
int mxb_preprocess_mask(const mxb_preprocess *p, const uint8_t *mask, int h, int w,
                        uint8_t *out, char *err, size_t errlen);

/* ---- synthetic benchmark ------------------------------------------------------ */

/* Ten classes: five shapes (disc, square, triangle, cross, ring) x two fill
 * textures (stripes, checks), each object drawn in two random colours from the
 * same palette the clutter uses, at a random position, scale (35-60 % of the side)
 * and rotation, on a background of gradients and distractor patches that carry
 * both textures and every palette colour, but never the class shapes at object
 * size. The class is therefore decidable only from the object. The mask is the
 * object's exact pixels. Classes are balanced: every block of ten consecutive
 * indices holds each class once, in an order drawn from the seed. */
#define MXB_SYNTH_CLASSES 10
const char *mxb_synth_class_name(int label);
/* One sample, a pure function of (seed, index, size): rgb [size*size*3], mask
 * [size*size]. size in [16, 4096]. */
int mxb_synth_sample(uint64_t seed, int64_t index, int size, uint8_t *rgb, uint8_t *mask,
                     int *label, char *err, size_t errlen);
/* Writes the benchmark in the formats of the real data, into dir (created):
 *   dir/images/synth_NNNNNN.png + dir/labels.txt ("synth_NNNNNN.png label" lines):
 *       read with mxb_imagenet_open(dir/images, dir/labels.txt)
 *   dir/gtsegs_synth.mat: read with mxb_segmentation_open
 *   dir/classes.txt: the class names, one per line, in label order
 * Same arguments, same bytes. n <= 999999 (the names' six digits). An image file
 * in dir/images that is not one of the n about to be written (say, from an earlier
 * run with a larger n) is an error before anything is written: the flat reader
 * would find it without a label. */
int mxb_synth_write(const char *dir, int n, uint64_t seed, int size, char *err, size_t errlen);
/* The same, calling progress(done, n, ctx) after each sample (progress may be NULL). */
int mxb_synth_write_progress(const char *dir, int n, uint64_t seed, int size,
                             void (*progress)(int done, int n, void *ctx), void *ctx, char *err,
                             size_t errlen);

#endif
