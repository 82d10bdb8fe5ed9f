/*
 * ag_platform: what the heartbeat reports about the host: PlatformName and
 * PlatformVersion from os-release (NAME and VERSION_ID), the host name and
 * the primary IPv4 address.  The os-release parser follows the format in
 * os-release(5): KEY=VALUE lines, values optionally in double or single
 * quotes with backslash escapes inside double quotes, '#' comments.
 */
#ifndef AG_PLATFORM_H
#define AG_PLATFORM_H

#include <stddef.h>

#include "dh_err.h"

#define AG_OSREL_MAX (64 * 1024)

struct ag_platform {
	char name[128];     /* "Debian GNU/Linux" */
	char version[64];   /* "12" */
	char hostname[256];
	char ip[128];       /* "" when none */
};

/* Parse os-release text p[0..n) for NAME and VERSION_ID into pl (fields
 * left untouched when absent).  DH_E_TOOBIG over AG_OSREL_MAX, DH_E_FORMAT
 * for an unterminated quote or a NUL byte. */
int ag_platform_parse_os_release(const void *p, size_t n,
    struct ag_platform *pl, struct dh_err *err);

/* Fill pl for this host: os-release from root/etc/os-release, else
 * root/usr/lib/os-release (root "" or NULL = real root; defaults "Linux"
 * and ""), host name and first non-loopback IPv4 address. */
void ag_platform_collect(const char *root, struct ag_platform *pl);

#endif
