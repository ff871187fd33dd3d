/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#ifndef IFCVF_OSDEP_H
#define IFCVF_OSDEP_H

#include <rte_log.h>

#include "ifcvf_compat.h"

/* The driver's own log type (pmd.vdpa.ifcvf_oot), shared by every layer. */
extern int ifcvf_logtype;

#define IFCVF_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, ifcvf_logtype, "IFCVF: %s(): " fmt "\n", \
		__func__, ##__VA_ARGS__)

/* Sleep for @ms milliseconds without spinning. */
void ifcvf_msleep(unsigned int ms);

#endif /* IFCVF_OSDEP_H */
