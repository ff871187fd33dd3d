/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The devargs helpers every bus glue parses its devargs with (ifcvf_bus.h):
 * unknown and bare keys refused by name, values that name one of two
 * settings (0/1 among them).
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_kvargs.h>

#include "ifcvf_vdpa.h"

/*
 * Parse @args; an unknown key is named, with the keys @valid accepts, and
 * a known key without a value is refused.
 */
struct rte_kvargs *
ifcvf_kvargs_parse(const char *dev, const char *args,
		   const char * const valid[])
{
	struct rte_kvargs *kv = rte_kvargs_parse(args, NULL);
	char keys[256] = "";
	unsigned int i, j;

	if (kv == NULL) {
		IFCVF_LOG(ERR, "%s: cannot parse devargs \"%s\"", dev, args);
		return NULL;
	}
	for (i = 0; i < kv->count; i++) {
		for (j = 0; valid[j] != NULL; j++)
			if (strcmp(kv->pairs[i].key, valid[j]) == 0)
				break;
		if (valid[j] != NULL && kv->pairs[i].value == NULL) {
			/* A bare key: no parser is handed a NULL value. */
			IFCVF_LOG(ERR, "%s: devarg \"%s\" needs a value (%s=...)",
				  dev, kv->pairs[i].key, kv->pairs[i].key);
			rte_kvargs_free(kv);
			return NULL;
		}
		if (valid[j] != NULL)
			continue;
		for (j = 0; valid[j] != NULL; j++)
			snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys),
				 "%s%s", j > 0 ? ", " : "", valid[j]);
		IFCVF_LOG(ERR, "%s: unknown devarg \"%s\": accepted keys are %s",
			  dev, kv->pairs[i].key, keys);
		rte_kvargs_free(kv);
		return NULL;
	}
	return kv;
}

int
ifcvf_devarg_choice(const char *key, const char *value, void *out)
{
	struct ifcvf_devarg_choice *c = out;
	unsigned int i;

	for (i = 0; i < RTE_DIM(c->name); i++) {
		if (value != NULL && strcmp(value, c->name[i]) == 0) {
			c->chosen = c->setting[i];
			return 0;
		}
	}
	IFCVF_LOG(ERR, "devarg %s=%s: accepted values are %s and %s", key,
		  value != NULL ? value : "", c->name[0], c->name[1]);
	return -EINVAL;
}

int
ifcvf_devarg_bool(const char *key, const char *value, void *out)
{
	struct ifcvf_devarg_choice c = {
		{ "0", "1" }, { false, true }, *(bool *)out,
	};
	int ret = ifcvf_devarg_choice(key, value, &c);

	*(bool *)out = c.chosen;
	return ret;
}
