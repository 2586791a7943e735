/* Plugin descriptors (methods/registry.c): what mxb_methods_load_plugin checks of the
 * table a plugin's mxb_plugin_methods() returns before registering it. dlopen-ing
 * random bytes would fuzz the dynamic loader, not us; instead the input is decoded
 * into the table itself: the count (any int), NULL entries, ABI versions, names (NULL,
 * empty, long, odd bytes, built-in names), explain() present or not, archs and needs
 * bits. An accepted table must hold only well-formed, distinct, unregistered names. */
#include "methods/method.h"
#include "fuzz_util.h"

static int nothing(const mxb_explain_input *in, float *map, char *err, size_t errlen) {
    (void)in, (void)map, (void)err, (void)errlen;
    return 0;
}

typedef struct {
    const uint8_t *p;
    size_t n;
} src;

static uint8_t u8(src *s) {
    if (!s->n) return 0;
    s->n--;
    return *s->p++;
}

static uint32_t u32(src *s) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | u8(s);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    src s = {data, size};
    static const char *known[] = {"rollout", "attribution", "raw-attention", "gradcam", "x"};
    int sel = u8(&s), n;
    /* mostly small counts; sometimes any int (negative, huge) */
    n = sel & 0x80 ? (int)u32(&s) : sel % 8;
    int slots = n > 0 && n <= 70 ? n : 0;
    mxb_method *m = calloc((size_t)slots + 1, sizeof *m);
    const mxb_method **tab = calloc((size_t)slots + 1, sizeof *tab);
    char (*names)[80] = calloc((size_t)slots + 1, sizeof *names);
    for (int i = 0; i < slots; i++) {
        uint8_t f = u8(&s);
        tab[i] = f == 0xFF ? NULL : &m[i];
        m[i].abi_version = f & 1 ? u32(&s) : MXB_METHOD_ABI_VERSION;
        switch ((f >> 1) & 3) {
        case 0: m[i].name = NULL; break;
        case 1: m[i].name = known[u8(&s) % 5]; break;
        default: { /* a name from the input's bytes, up to 79 of them */
            size_t len = u8(&s) % 80;
            for (size_t k = 0; k < len; k++) names[i][k] = (char)u8(&s);
            names[i][len] = 0;
            m[i].name = names[i];
        }
        }
        m[i].explain = f & 8 ? NULL : nothing;
        m[i].archs = f & 16 ? u32(&s) : MXB_METHOD_VIT;
        m[i].needs = f & 32 ? u32(&s) : 0;
    }
    char err[512] = "";
    const mxb_method *const *arg = sel & 0x40 ? NULL : tab;
    if (mxb_methods_check("fuzz.so", arg, n, err, sizeof err) == 0) {
        if (!arg || n < 1 || n > slots) abort();
        for (int i = 0; i < n; i++) {
            const mxb_method *a = arg[i];
            if (!a || a->abi_version < MXB_METHOD_ABI_OLDEST || a->abi_version > MXB_METHOD_ABI_VERSION || !a->name || !a->name[0] ||
                strlen(a->name) > 63 || strchr(a->name, '/') || strchr(a->name, '\n') || !a->explain ||
                mxb_methods_find(a->name))
                abort();
            for (int j = 0; j < i; j++)
                if (!strcmp(arg[j]->name, a->name)) abort();
        }
    } else {
        fz_check_err(err);
    }
    free(names);
    free(tab);
    free(m);
    return 0;
}
