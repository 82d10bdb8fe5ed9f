/*
 * wsc_probe: connects to a websocket URL with dh_wsc, sends the text
 * message "hello", prints one line per received message
 * ("msg text|binary LEN SHA256HEX"), echoes every binary message back and
 * stops when the peer closes, printing "closed: REASON".  Integration tests
 * drive it against a third-party server (python3-websockets).  The proxy
 * comes from https_proxy / no_proxy like the CLI's.
 *
 *   wsc_probe URL CAFILE|- [MAX_MESSAGE]
 *
 * Exit status: 0 after a close by the peer, 1 on a connect or protocol
 * error ("error: ..." on stdout), 2 on usage.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dh_err.h"
#include "dh_hash.h"
#include "dh_enc.h"
#include "dh_wsc.h"
#include "dh_wsq.h"

struct probe {
	struct dh_wsq q;
	int failed;
};

static void
on_msg(void *arg, int text, const unsigned char *p, size_t n)
{
	struct probe *pr = arg;
	unsigned char d[DH_SHA256_LEN];
	char hex[2 * DH_SHA256_LEN + 1];

	dh_sha256(p, n, d);
	dh_hex_encode(d, sizeof(d), hex);
	printf("msg %s %zu %s\n", text ? "text" : "binary", n, hex);
	fflush(stdout);
	if (!text && dh_wsq_push(&pr->q, DH_WSQ_BINARY, p, n, 0) != DH_OK)
		pr->failed = 1;
}

int
main(int argc, char **argv)
{
	struct dh_wsc_cfg cfg;
	struct dh_wsc *c = NULL;
	struct probe pr;
	struct dh_err e;
	char host[256], hostport[300], path[1024], proxy[1024];
	const char *u, *h, *slash, *colon;
	struct pollfd pf;
	int rc = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: wsc_probe URL CAFILE|- [MAX]\n");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	u = argv[1];
	cfg.tls = strncmp(u, "wss://", 6) == 0;
	if (!cfg.tls && strncmp(u, "ws://", 5) != 0)
		return 2;
	h = u + (cfg.tls ? 6 : 5);
	slash = strchr(h, '/');
	if (slash == NULL)
		slash = h + strlen(h);
	colon = memchr(h, ':', (size_t)(slash - h));
	if (colon == NULL || (size_t)(colon - h) >= sizeof(host) ||
	    (size_t)(slash - h) >= sizeof(hostport))
		return 2;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - h), h);
	snprintf(hostport, sizeof(hostport), "%.*s", (int)(slash - h), h);
	snprintf(path, sizeof(path), "%s", *slash != '\0' ? slash : "/");
	cfg.host = host;
	cfg.port = (int)strtol(colon + 1, NULL, 10);
	cfg.host_header = hostport;
	cfg.path = path;
	cfg.ca_file = strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
	cfg.timeout_ms = 10000;
	cfg.max_message = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) :
	    (size_t)16 << 20;
	if (dh_wsc_env_proxy(host, proxy, sizeof(proxy)))
		cfg.proxy = proxy;
	memset(&pr, 0, sizeof(pr));
	dh_wsq_init(&pr.q, 0, 0);
	dh_err_clear(&e);
	if (dh_wsc_connect(&cfg, &c, &e) != DH_OK) {
		printf("error: %s\n", e.msg);
		goto out;
	}
	if (dh_wsq_push(&pr.q, DH_WSQ_TEXT, "hello", 5, 0) != DH_OK)
		goto out;
	for (;;) {
		if (dh_wsc_write(c, &pr.q, NULL, &e) != DH_OK || pr.failed) {
			printf("error: %s\n", e.msg);
			goto out;
		}
		pf.fd = dh_wsc_fd(c);
		pf.events = POLLIN | (dh_wsc_want_write(c, &pr.q) ? POLLOUT : 0);
		pf.revents = 0;
		if (!dh_wsc_pending(c) && poll(&pf, 1, 10000) <= 0) {
			printf("error: timeout\n");
			goto out;
		}
		if (!dh_wsc_pending(c) &&
		    !(pf.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (dh_wsc_read(c, &pr.q, on_msg, &pr, &e) != DH_OK) {
			(void)dh_wsc_write(c, &pr.q, NULL, NULL);
			if (e.code == DH_E_NET) {
				printf("closed: %s\n", e.msg);
				rc = 0;
			} else
				printf("error: %s\n", e.msg);
			goto out;
		}
	}
out:
	dh_wsc_free(c);
	dh_wsq_clear(&pr.q);
	return rc;
}
