/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The ifcvf-vdpa authors
 */

/*
 * The migration suite's traffic checker, run in the guest (linked
 * statically: the guest has busybox and nothing else).
 *
 * It sends ICMP echo requests on a packet socket, up to a window of them
 * in flight, each with a payload whose length and bytes derive from its
 * 32-bit sequence number, so a stale or misplaced buffer shows. Each reply
 * must be byte for byte the frame an echo responder makes of the request
 * (MACs and IP addresses swapped, type 0, ICMP checksum adjusted), and its
 * IP and ICMP checksums must verify. A request unanswered after the
 * timeout counts as lost. Counters go to stdout periodically:
 *
 *   PING t=<ms> sent=<n> rcvd=<n> lost=<n> bad=<n> dup=<n> late=<n>
 *        txerr=<n> out=<n> junk=<n>
 *
 * and the first corrupt replies are described on PING-BAD lines. Any other
 * frame received counts as junk (PING-JUNK lines): the guest has no
 * address and IPv6 is off, so only the peer's replies may come.
 *
 * Several instances may run side by side (one per queue pair, each pinned
 * to a CPU: the guest's XPS maps CPU i to TX queue i). Instance <id> of
 * <ids> uses ICMP identifier ICMP_IDENT + id, tags its counters
 * "PING id=<id> cpu=<cpu now> t=..." and passes over the replies of its
 * siblings (each of them sees every frame and checks its own); instance 0
 * also prints the interface's per-queue packet counters (virtio-net's
 * ethtool statistics):
 *
 *   PING-QUEUES rx0=<n> tx0=<n> rx1=<n> tx1=<n> ...
 *
 * With a <count> (ids 0 0 when alone) it stops sending once <count>
 * replies came, settles the requests in flight (answered or timed out),
 * prints its last counters, the interface's per-queue counters (also when
 * alone) and "PING-DONE", and exits: the guest may then reset the device
 * with nothing in flight (a module reload).
 *
 * usage: guest_ping <ifname> <peer mac> [window] [period ms] [timeout ms]
 *                   [id ids] [count]
 */

#define _GNU_SOURCE	/* sched_getcpu */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_LEN		14
#define IP_LEN		20
#define ICMP_LEN	8
#define HDR_LEN		(ETH_LEN + IP_LEN + ICMP_LEN)
#define PAYLOAD_MIN	32
#define PAYLOAD_SPAN	1369	/* payloads of 32 to 1400 bytes */
#define FRAME_MAX	(HDR_LEN + PAYLOAD_MIN + PAYLOAD_SPAN)
#define NR_SLOTS	65536	/* one per 16-bit ICMP sequence number */
#define ICMP_IDENT	0x1fc5
#define MAX_BAD_SHOWN	8
#define MAX_QUEUES	16	/* per-queue counters shown */

enum slot_state { SLOT_FREE, SLOT_OUT, SLOT_DONE, SLOT_LOST };

struct slot {
	uint32_t seq;
	uint8_t state;
	uint64_t sent_ns;
};

struct pinger {
	int fd;
	int ifindex;
	uint8_t own[6];
	uint8_t peer[6];
	unsigned int window;
	unsigned int id, ids;	/* this instance of several; ids 0: alone */
	uint16_t ident;		/* ICMP identifier: ICMP_IDENT + id */
	char ifname[IFNAMSIZ];
	uint64_t timeout_ns;
	uint32_t next_seq;	/* the next request's sequence number */
	uint32_t oldest;	/* no request older than this is in flight */
	uint64_t sent, rcvd, lost, bad, dup, late, txerr, junk;
	struct slot slots[NR_SLOTS];
};

static struct pinger P;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint16_t
csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static size_t
payload_len(uint32_t seq)
{
	return PAYLOAD_MIN + (size_t)(seq * 389u) % PAYLOAD_SPAN;
}

/*
 * The request for @seq, or (@reply) the echo reply an ICMP responder
 * makes of it. Returns the frame length.
 */
static size_t
build(uint8_t *f, uint32_t seq, int reply)
{
	static const uint8_t guest_ip[4] = { 10, 0, 0, 2 };
	static const uint8_t peer_ip[4] = { 10, 0, 0, 1 };
	size_t plen = payload_len(seq), i;
	uint8_t *ip = f + ETH_LEN, *icmp = ip + IP_LEN, *pl = icmp + ICMP_LEN;

	memcpy(f, reply ? P.own : P.peer, 6);
	memcpy(f + 6, reply ? P.peer : P.own, 6);
	put16(f + 12, ETHERTYPE_IP);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, IP_LEN + ICMP_LEN + plen);
	put16(ip + 4, seq & 0xffff);
	put16(ip + 6, 0x4000);	/* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	put16(ip + 10, 0);
	memcpy(ip + 12, reply ? peer_ip : guest_ip, 4);
	memcpy(ip + 16, reply ? guest_ip : peer_ip, 4);
	put16(ip + 10, csum(ip, IP_LEN));
	icmp[0] = reply ? 0 : 8;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, P.ident);
	put16(icmp + 6, seq & 0xffff);
	pl[0] = seq >> 24;
	pl[1] = seq >> 16;
	pl[2] = seq >> 8;
	pl[3] = seq;
	for (i = 4; i < plen; i++)
		pl[i] = (uint8_t)(seq * 131u + i * 7u + (i >> 8) * 13u);
	put16(icmp + 2, csum(icmp, ICMP_LEN + plen));
	return HDR_LEN + plen;
}

/*
 * Instance 0 of several: the per-queue packet counters of the interface,
 * read as ethtool -S does (virtio-net names them rx_queue_<n>_packets and
 * tx_queue_<n>_packets).
 */
static void
report_queues(void)
{
	static struct ethtool_gstrings *names;
	static struct ethtool_stats *st;
	static unsigned int n;
	char line[1024], name[ETH_GSTRING_LEN + 1], what[ETH_GSTRING_LEN];
	unsigned int i, q;
	struct ifreq ifr;
	size_t len = 0;
	char dir;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", P.ifname);
	if (names == NULL) {
		struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };

		ifr.ifr_data = (void *)&info;
		if (ioctl(P.fd, SIOCETHTOOL, &ifr) < 0 || info.n_stats == 0)
			goto fail;
		n = info.n_stats;
		names = calloc(1, sizeof(*names) + n * ETH_GSTRING_LEN);
		st = calloc(1, sizeof(*st) + n * sizeof(uint64_t));
		if (names == NULL || st == NULL)
			goto fail;
		names->cmd = ETHTOOL_GSTRINGS;
		names->string_set = ETH_SS_STATS;
		names->len = n;
		ifr.ifr_data = (void *)names;
		if (ioctl(P.fd, SIOCETHTOOL, &ifr) < 0)
			goto fail;
	}
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	ifr.ifr_data = (void *)st;
	if (ioctl(P.fd, SIOCETHTOOL, &ifr) < 0)
		goto fail;
	len = (size_t)snprintf(line, sizeof(line), "PING-QUEUES");
	for (i = 0; i < n && len < sizeof(line) - 32; i++) {
		memcpy(name, names->data + i * ETH_GSTRING_LEN,
		       ETH_GSTRING_LEN);
		name[ETH_GSTRING_LEN] = '\0';
		if (sscanf(name, "%cx_queue_%u_%31s", &dir, &q, what) == 3 &&
		    (dir == 'r' || dir == 't') && q < MAX_QUEUES &&
		    strcmp(what, "packets") == 0)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						" %cx%u=%llu", dir, q,
						(unsigned long long)st->data[i]);
	}
	printf("%s\n", line);
	return;
fail:
	printf("PING-QUEUES-ERROR %s: %s\n", P.ifname, strerror(errno));
	free(names);
	free(st);
	names = NULL;
	st = NULL;
}

static void
report(uint64_t t0, int last)
{
	if (P.ids != 0)
		printf("PING id=%u cpu=%d ", P.id, sched_getcpu());
	else
		printf("PING ");
	printf("t=%llu sent=%llu rcvd=%llu lost=%llu bad=%llu dup=%llu "
	       "late=%llu txerr=%llu out=%llu junk=%llu\n",
	       (unsigned long long)((now_ns() - t0) / 1000000),
	       (unsigned long long)P.sent, (unsigned long long)P.rcvd,
	       (unsigned long long)P.lost, (unsigned long long)P.bad,
	       (unsigned long long)P.dup, (unsigned long long)P.late,
	       (unsigned long long)P.txerr,
	       (unsigned long long)(P.sent - P.rcvd - P.lost),
	       (unsigned long long)P.junk);
	if ((P.ids != 0 && P.id == 0) || last)
		report_queues();
	fflush(stdout);
}

static int
send_one(void)
{
	static uint8_t f[FRAME_MAX];
	struct sockaddr_ll to;
	struct slot *s = &P.slots[P.next_seq % NR_SLOTS];
	size_t len = build(f, P.next_seq, 0);

	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_ifindex = P.ifindex;
	to.sll_halen = 6;
	memcpy(to.sll_addr, P.peer, 6);
	if (sendto(P.fd, f, len, MSG_DONTWAIT, (struct sockaddr *)&to,
		   sizeof(to)) != (ssize_t)len) {
		P.txerr++;
		return -1;
	}
	s->seq = P.next_seq++;
	s->state = SLOT_OUT;
	s->sent_ns = now_ns();
	P.sent++;
	return 0;
}

/* Compare a reply with the expected one; 0 when intact. */
static int
check_reply(const uint8_t *f, size_t len, uint32_t seq)
{
	static uint8_t want[FRAME_MAX];
	size_t wlen = build(want, seq, 1), i;

	if (len == wlen && memcmp(f, want, len) == 0 &&
	    csum(f + ETH_LEN, IP_LEN) == 0 &&
	    csum(f + ETH_LEN + IP_LEN, len - ETH_LEN - IP_LEN) == 0)
		return 0;
	P.bad++;
	if (P.bad <= MAX_BAD_SHOWN) {
		for (i = 0; i < len && i < wlen && f[i] == want[i]; i++)
			;
		printf("PING-BAD seq=%u len=%zu want_len=%zu first_diff=%zu "
		       "got=0x%02x want=0x%02x\n", seq, len, wlen, i,
		       i < len ? f[i] : 0, i < wlen ? want[i] : 0);
	}
	return -1;
}

static void
receive(void)
{
	static uint8_t f[FRAME_MAX + 64];
	struct sockaddr_ll from;
	socklen_t flen;
	ssize_t n;
	struct slot *s;
	uint16_t seq16, ident;

	for (;;) {
		flen = sizeof(from);
		n = recvfrom(P.fd, f, sizeof(f), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&from, &flen);
		if (n < 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		/* The peer's answer to the guest's announce (see the filter). */
		if (n >= ETH_LEN && f[12] == 0x08 && f[13] == 0x06)
			continue;
		/*
		 * Nothing but replies to us may come: anything else (a
		 * buffer the device filled and the migration did not carry
		 * shows up as an old frame, or zeros) is junk. A sibling
		 * instance's reply is its own to check.
		 */
		ident = n < HDR_LEN ? 0 : (uint16_t)(
			f[ETH_LEN + IP_LEN + 4] << 8 | f[ETH_LEN + IP_LEN + 5]);
		if (n < HDR_LEN || f[12] != 0x08 || f[13] != 0x00 ||
		    f[ETH_LEN + 9] != IPPROTO_ICMP ||
		    f[ETH_LEN + IP_LEN] != 0 ||
		    ident < ICMP_IDENT ||
		    ident >= ICMP_IDENT + (P.ids != 0 ? P.ids : 1)) {
			if (++P.junk <= MAX_BAD_SHOWN)
				printf("PING-JUNK len=%zd type=0x%02x%02x "
				       "bytes=%02x%02x%02x%02x%02x%02x\n", n,
				       f[12], f[13], f[0], f[1], f[2], f[3],
				       f[4], f[5]);
			continue;
		}
		if (ident != P.ident)
			continue;
		seq16 = (uint16_t)(f[ETH_LEN + IP_LEN + 6] << 8 |
				   f[ETH_LEN + IP_LEN + 7]);
		s = &P.slots[seq16];
		switch (s->state) {
		case SLOT_OUT:
			if (check_reply(f, (size_t)n, s->seq) == 0)
				P.rcvd++;
			else
				P.lost++;	/* its only reply was bad */
			s->state = SLOT_DONE;
			break;
		case SLOT_LOST:
			P.late++;
			check_reply(f, (size_t)n, s->seq);
			s->state = SLOT_DONE;
			break;
		default:
			P.dup++;
			break;
		}
	}
}

/* Retire the requests unanswered for longer than the timeout. */
static void
expire(uint64_t now)
{
	struct slot *s;

	while (P.oldest != P.next_seq) {
		s = &P.slots[P.oldest % NR_SLOTS];
		if (s->state == SLOT_OUT) {
			if (now - s->sent_ns < P.timeout_ns)
				return;
			s->state = SLOT_LOST;
			P.lost++;
		}
		P.oldest++;
	}
}

static int
parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6], i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

/*
 * Keep off the socket what is not ours to check: the frames we (and our
 * siblings) send, and the siblings' replies. With several checkers every
 * socket would otherwise queue every frame, and one starved of CPU (CPU 0
 * takes the device's interrupt) overflows its receive buffer. Anything
 * else still comes, to be checked or counted as junk (but for IP frames
 * too short to hold an ICMP header: the filter drops what it cannot read),
 * except ARP: the guest has an address so that it announces itself after
 * a migration (GUEST_ANNOUNCE: a gratuitous ARP), and the peer, an echo
 * responder, answers that ARP.
 */
static int
attach_filter(void)
{
	uint16_t first = ICMP_IDENT, end = ICMP_IDENT + (P.ids ? P.ids : 1);
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 12, 0),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),		/* ethertype */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IP, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_ARP, 9, 8),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ETH_LEN + 9),	/* proto */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMP, 0, 6),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ETH_LEN + IP_LEN), /* type */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 4),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, ETH_LEN + IP_LEN + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, P.ident, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, first, 0, 1),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, end, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),		/* keep */
		BPF_STMT(BPF_RET | BPF_K, 0),			/* drop */
	};
	struct sock_fprog prog = {
		.len = sizeof(code) / sizeof(code[0]),
		.filter = code,
	};

	return setsockopt(P.fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog));
}

static int
open_socket(const char *ifname)
{
	struct sockaddr_ll sll;
	struct ifreq ifr;

	P.fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (P.fd < 0)
		return -1;
	snprintf(P.ifname, sizeof(P.ifname), "%s", ifname);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(P.fd, SIOCGIFINDEX, &ifr) < 0)
		return -1;
	P.ifindex = ifr.ifr_ifindex;
	if (ioctl(P.fd, SIOCGIFHWADDR, &ifr) < 0)
		return -1;
	memcpy(P.own, ifr.ifr_hwaddr.sa_data, 6);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = P.ifindex;
	if (attach_filter() < 0)
		return -1;
	return bind(P.fd, (struct sockaddr *)&sll, sizeof(sll));
}

int
main(int argc, char **argv)
{
	uint64_t t0, now, next_report, period_ns, count = 0;
	struct pollfd pfd;

	if (argc < 3 || parse_mac(argv[2], P.peer) < 0) {
		fprintf(stderr, "usage: %s <ifname> <peer mac> [window] "
			"[period ms] [timeout ms] [id ids]\n", argv[0]);
		return 2;
	}
	P.window = argc > 3 ? (unsigned int)atoi(argv[3]) : 32;
	period_ns = (argc > 4 ? strtoull(argv[4], NULL, 0) : 250) * 1000000;
	P.timeout_ns = (argc > 5 ? strtoull(argv[5], NULL, 0) : 2000) *
		       1000000;
	if (argc > 7) {
		P.id = (unsigned int)atoi(argv[6]);
		P.ids = (unsigned int)atoi(argv[7]);
	}
	if (argc > 8)
		count = strtoull(argv[8], NULL, 0);
	P.ident = (uint16_t)(ICMP_IDENT + P.id);
	if (P.window < 1 || P.window > 1024) {
		fprintf(stderr, "window: 1 to 1024\n");
		return 2;
	}
	if (P.ids > MAX_QUEUES || (P.ids != 0 && P.id >= P.ids)) {
		fprintf(stderr, "id ids: 0 <= id < ids <= %d\n", MAX_QUEUES);
		return 2;
	}
	if (open_socket(argv[1]) < 0) {
		printf("PING-ERROR %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("PING-START if=%s mac=%02x:%02x:%02x:%02x:%02x:%02x window=%u "
	       "id=%u of %u\n", argv[1], P.own[0], P.own[1], P.own[2],
	       P.own[3], P.own[4], P.own[5], P.window, P.id, P.ids);
	t0 = now_ns();
	next_report = t0 + period_ns;
	pfd.fd = P.fd;
	pfd.events = POLLIN;
	for (;;) {
		while ((count == 0 || P.rcvd < count) &&
		       P.sent - P.rcvd - P.lost < P.window)
			if (send_one() < 0)
				break;
		poll(&pfd, 1, 5);
		receive();
		now = now_ns();
		expire(now);
		if (count != 0 && P.rcvd >= count &&
		    P.sent == P.rcvd + P.lost) {
			report(t0, 1);
			printf("PING-DONE\n");
			fflush(stdout);
			return 0;
		}
		if (now >= next_report) {
			report(t0, 0);
			next_report = now + period_ns;
		}
	}
}
