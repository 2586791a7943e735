/* The per-image result fields, described once (results/store.h, mxb_res_field), and
 * everything that only needs that description: allocation, the byte estimate, free,
 * the row copy of a merge and the journal record of one unit. Writing and reading
 * walk the same table in store.c. */
#include "results/results.h"
#include "results/internal.h"

#include "io/io.h"
#include "metrics/metrics.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The run loop fills [image, step] rows with the metrics' perturbation steps. */
_Static_assert(MXB_RES_STEPS == MXB_PERTURB_STEPS, "results and metrics disagree on the perturbation steps");

#define AT(member) offsetof(mxb_res_cell, member)
enum { PERT = MXB_TEST_PERTURBATION, SEG = MXB_TEST_SEGMENTATION, BOTH = -1 };

const mxb_res_field mxb_res_fields[] = {
    /* name, type, test, polar, when, extent, offset, layout */
    {"explained", MXB_H5_I32, BOTH, 0, MXB_RES_ALWAYS, MXB_RES_ONE, AT(explained), "[image] class explained"},
    {"map", MXB_H5_F32, BOTH, 0, MXB_RES_IF_MAPS, MXB_RES_PER_PATCH, AT(maps),
     "[image, patch row, patch column] relevance, class token removed, not normalised"},
    {"hits", MXB_H5_I32, PERT, 1, MXB_RES_ALWAYS, MXB_RES_PER_STEP, AT(hits),
     "[image, step] 1 when top-1 == label after removing the fraction step/10 of the pixels"},
    {"logit_diff", MXB_H5_F32, PERT, 1, MXB_RES_ALWAYS, MXB_RES_PER_STEP, AT(logit_diff),
     "[image, step] max logit minus the unperturbed image's"},
    {"prob_diff", MXB_H5_F32, PERT, 1, MXB_RES_ALWAYS, MXB_RES_PER_STEP, AT(prob_diff),
     "[image, step] max softmax probability minus the unperturbed image's"},
    {"insertion_auc", MXB_H5_F64, PERT, 0, MXB_RES_IF_INSDEL, MXB_RES_ONE, AT(insertion_auc),
     "[image] RISE insertion AUC: class probability as the most relevant pixels are put back on the blurred image"},
    {"deletion_auc", MXB_H5_F64, PERT, 0, MXB_RES_IF_INSDEL, MXB_RES_ONE, AT(deletion_auc),
     "[image] RISE deletion AUC: class probability as the most relevant pixels are removed"},
    {"counts", MXB_H5_I32, SEG, 0, MXB_RES_ALWAYS, MXB_RES_PER_COUNT, AT(seg_counts),
     "[image, count] correct, labelled, intersection (background, foreground), union (background, foreground)"},
    {"ap", MXB_H5_F64, SEG, 0, MXB_RES_ALWAYS, MXB_RES_ONE, AT(ap), "[image] average precision"},
    {"f1", MXB_H5_F64, SEG, 0, MXB_RES_ALWAYS, MXB_RES_ONE, AT(f1), "[image] row-mean F1"},
    {"pointing", MXB_H5_I32, SEG, 0, MXB_RES_ALWAYS, MXB_RES_ONE, AT(pointing), "[image] 1 hit, 0 miss, -1 empty mask"},
};
const int mxb_res_nfields = (int)(sizeof mxb_res_fields / sizeof *mxb_res_fields);
_Static_assert(sizeof mxb_res_fields / sizeof *mxb_res_fields <= MXB_RES_MAX_FIELDS, "raise MXB_RES_MAX_FIELDS");

int mxb_res_field_present(const mxb_results *r, int t, const mxb_res_field *f) {
    if (f->test != BOTH && f->test != t) return 0;
    switch (f->when) {
    case MXB_RES_IF_MAPS: return r->keep_maps != 0;
    case MXB_RES_IF_INSDEL: return r->insdel_step > 0;
    default: return 1;
    }
}

size_t mxb_res_field_elems(const mxb_results *r, int m, const mxb_res_field *f) {
    switch (f->extent) {
    case MXB_RES_PER_STEP: return MXB_RES_STEPS;
    case MXB_RES_PER_COUNT: return MXB_SEG_COUNTS;
    case MXB_RES_PER_PATCH: return (size_t)r->grid[m] * (size_t)r->grid[m];
    default: return 1;
    }
}

size_t mxb_res_type_size(mxb_h5_type type) { return type == MXB_H5_F64 ? 8 : type == MXB_H5_U8 ? 1 : 4; }

static size_t member_at(const mxb_res_field *f, int q) { return f->offset + (f->polar ? (size_t)q * sizeof(void *) : 0); }

void *mxb_res_field_data(const mxb_res_cell *c, const mxb_res_field *f, int q) {
    void *p;
    memcpy(&p, (const char *)c + member_at(f, q), sizeof p);
    return p;
}

static void set_data(mxb_res_cell *c, const mxb_res_field *f, int q, void *p) {
    memcpy((char *)c + member_at(f, q), &p, sizeof p);
}

int mxb_res_slots(const mxb_results *r, int t, mxb_res_slot *out) {
    int n = 0;
    for (int i = 0; i < mxb_res_nfields;) {
        int j = i + 1;
        if (mxb_res_fields[i].polar)
            while (j < mxb_res_nfields && mxb_res_fields[j].polar) j++;
        for (int q = 0; q < (mxb_res_fields[i].polar ? 2 : 1); q++)
            for (int g = i; g < j; g++)
                if (mxb_res_field_present(r, t, &mxb_res_fields[g])) out[n++] = (mxb_res_slot){&mxb_res_fields[g], q};
        i = j;
    }
    return n;
}

size_t mxb_results_test_bytes(const mxb_results *r, int t, int n) {
    /* index, id pointer, ~32 bytes per id string, label; per model pred and done */
    size_t per = 4 + sizeof(char *) + 32 + 4;
    mxb_res_slot s[2 * MXB_RES_MAX_FIELDS];
    int ns = mxb_res_slots(r, t, s);
    for (int m = 0; m < r->nmodels; m++) {
        per += 4 + 1;
        size_t ran = 0; /* a skipped pair has no arrays */
        for (int k = 0; k < r->nmethods; k++) ran += !r->skipped[m][k];
        for (int j = 0; j < ns; j++)
            per += ran * mxb_res_field_elems(r, m, s[j].f) * mxb_res_type_size(s[j].f->type);
    }
    return per * (size_t)(n > 0 ? n : 0);
}

int mxb_results_alloc_test(mxb_results *r, int t, int n, char *err, size_t errlen) {
    mxb_res_test *T = &r->test[t];
    T->enabled = 1;
    T->n = n;
    /* n comes from a file (read, merge) or a checked configuration (run): checked */
    size_t rows = n > 0 ? (size_t)n : 1;
    int ok = (T->index = mxb_try_alloc0(rows, sizeof(int32_t))) && (T->ids = mxb_try_alloc0(rows, sizeof(char *))) &&
             (T->label = mxb_try_alloc0(rows, sizeof(int32_t)));
    mxb_res_slot s[2 * MXB_RES_MAX_FIELDS];
    int ns = mxb_res_slots(r, t, s);
    for (int m = 0; ok && m < r->nmodels; m++) {
        ok = (T->pred[m] = mxb_try_alloc0(rows, sizeof(int32_t))) && (T->done[m] = mxb_try_alloc0(rows, 1));
        for (int k = 0; ok && k < r->nmethods; k++)
            for (int j = 0; ok && j < ns && !r->skipped[m][k]; j++) {
                void *a = mxb_try_alloc0(rows * mxb_res_field_elems(r, m, s[j].f), mxb_res_type_size(s[j].f->type));
                set_data(&T->cell[m][k], s[j].f, s[j].q, a);
                ok = a != NULL;
            }
    }
    if (!ok) mxb_seterr(err, errlen, "out of memory for the results of %d images", n);
    return ok ? 0 : -1;
}

void mxb_results_free_test(mxb_res_test *T) {
    if (T->ids)
        for (int i = 0; i < T->n; i++) free(T->ids[i]);
    free(T->ids);
    free(T->index);
    free(T->label);
    free(T->fig_index);
    free(T->fig_rgb);
    free(T->fig_mask);
    for (int m = 0; m < MXB_RES_MAX_MODELS; m++) {
        free(T->pred[m]);
        free(T->done[m]);
        /* every row, present or not: absent ones are NULL */
        for (int k = 0; k < MXB_RES_MAX_METHODS; k++)
            for (int j = 0; j < mxb_res_nfields; j++)
                for (int q = 0; q < (mxb_res_fields[j].polar ? 2 : 1); q++)
                    free(mxb_res_field_data(&T->cell[m][k], &mxb_res_fields[j], q));
    }
    memset(T, 0, sizeof *T);
}

/* Copies the fields of every method of image `from` in src into row `to` of dst. */
void mxb_results_copy_cells(mxb_results *dst, const mxb_results *src, int t, int to, int from) {
    mxb_res_slot s[2 * MXB_RES_MAX_FIELDS];
    int ns = mxb_res_slots(dst, t, s);
    for (int m = 0; m < dst->nmodels; m++)
        for (int k = 0; k < dst->nmethods; k++)
            for (int j = 0; j < ns && !dst->skipped[m][k]; j++) {
                size_t row = mxb_res_field_elems(dst, m, s[j].f) * mxb_res_type_size(s[j].f->type);
                char *d = mxb_res_field_data(&dst->test[t].cell[m][k], s[j].f, s[j].q);
                const char *f = mxb_res_field_data(&src->test[t].cell[m][k], s[j].f, s[j].q);
                memcpy(d + (size_t)to * row, f + (size_t)from * row, row);
            }
}

/* The record: pred[m][i], then per method the model runs (skipped pairs have no
 * bytes) the present fields in slot order. One walk
 * serves the three: out and in NULL only counts; out copies r's arrays into the
 * record, in copies a record into r's arrays. */
static size_t record_walk(const mxb_results *r, int t, int m, int i, char *out, const char *in, mxb_res_test *dst) {
    const mxb_res_test *T = &r->test[t];
    mxb_res_slot s[2 * MXB_RES_MAX_FIELDS];
    int ns = mxb_res_slots(r, t, s);
    size_t off = sizeof(int32_t);
    if (out) memcpy(out, &T->pred[m][i], sizeof(int32_t));
    if (in) memcpy(&dst->pred[m][i], in, sizeof(int32_t));
    for (int k = 0; k < r->nmethods; k++)
        for (int j = 0; j < ns && !r->skipped[m][k]; j++) {
            size_t row = mxb_res_field_elems(r, m, s[j].f) * mxb_res_type_size(s[j].f->type);
            if (out) memcpy(out + off, (const char *)mxb_res_field_data(&T->cell[m][k], s[j].f, s[j].q) + (size_t)i * row, row);
            if (in) memcpy((char *)mxb_res_field_data(&dst->cell[m][k], s[j].f, s[j].q) + (size_t)i * row, in + off, row);
            off += row;
        }
    return off;
}

size_t mxb_results_record_bytes(const mxb_results *r, int t, int m) { return record_walk(r, t, m, 0, NULL, NULL, NULL); }

void mxb_results_record_put(const mxb_results *r, int t, int m, int i, void *buf) {
    record_walk(r, t, m, i, buf, NULL, NULL);
}

void mxb_results_record_get(mxb_results *r, int t, int m, int i, const void *buf) {
    record_walk(r, t, m, i, NULL, buf, &r->test[t]);
}
