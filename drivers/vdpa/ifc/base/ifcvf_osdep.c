/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

#include <errno.h>
#include <time.h>

#include "ifcvf_osdep.h"

RTE_LOG_REGISTER(ifcvf_logtype, pmd.vdpa.ifcvf_oot, NOTICE);

void
ifcvf_msleep(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
