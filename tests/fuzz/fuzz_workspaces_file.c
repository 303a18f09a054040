/*
 * tests/fuzz/fuzz_workspaces_file.c - libFuzzer target for the workspaces
 * storage file (proto/workspaces_file.c, read by master/workspaces_store.c
 * at start-up).
 *
 * Beyond "no crash, no leak, no UB", it checks what the master relies on:
 * a refused file has a reason; an accepted one holds bounded, unique ids
 * and bounded names, and encoding it and decoding that again gives the same
 * text (what is saved loads back as it was).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "jwt.h"
#include "workspaces_file.h"
#include "workspaces_msg.h"

static void fuzz_check_ids(const struct workspaces_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct workspaces_file_entry *w = &f->workspaces[i];
        FUZZ_CHECK(w->id[0] && strlen(w->id) <= JWT_MAX_ID);
        FUZZ_CHECK(strlen(w->name) <= WORKSPACES_MAX_NAME);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(f->workspaces[j].id, w->id) != 0);
        for (size_t k = 0; k < w->n_attendees; k++) {
            FUZZ_CHECK(w->attendees[k].id[0] && strlen(w->attendees[k].id) <= JWT_MAX_ID);
            FUZZ_CHECK(strlen(w->attendees[k].name) <= WORKSPACES_MAX_NAME);
            for (size_t j = 0; j < k; j++)
                FUZZ_CHECK(strcmp(w->attendees[j].id, w->attendees[k].id) != 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct workspaces_file f, back;
    char err[256] = "";
    int rc = workspaces_file_decode((const char *)data, size, &f, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0');
        workspaces_file_clear(&f);
        return 0;
    }
    fuzz_check_ids(&f);
    char *text = workspaces_file_encode(f.workspaces, f.n);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(workspaces_file_decode(text, strlen(text), &back, err, sizeof(err)) == 0);
    FUZZ_CHECK(back.n == f.n);
    char *again = workspaces_file_encode(back.workspaces, back.n);
    FUZZ_CHECK(again != NULL && strcmp(again, text) == 0);
    free(again);
    free(text);
    workspaces_file_clear(&back);
    workspaces_file_clear(&f);
    return 0;
}
