/* `ward status`: a person's summary of a running agent, from its admin
 * endpoint's /stats (see admin.h). */
#ifndef WARD_STATUS_H
#define WARD_STATUS_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "lib/err.h"

/* Writes the summary of a /stats document to out; now is for "expires in"
 * and "up". WARD_ERR_INVALID if stats lacks what the summary needs. */
int ward_status_print(const json_t *stats, time_t now, FILE *out) WARD_MUST_CHECK;

#endif
