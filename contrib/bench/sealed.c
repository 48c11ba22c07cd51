/*
 * sealed.c — sealed mode's cost (issue 7): the bulk loopback run of bulk.c
 * in plain mode, in sealed mode with ChaCha20-Poly1305 and, where libsodium
 * offers it, AES-256-GCM, and libsodium's AEAD alone on one core (aead.c),
 * all in one run, interleaved opts.bulk_reps times; medians and ratios.
 *
 * What the ratio compares.  The bulk run has two threads on two CPUs: the
 * sender seals every data segment once, the receiver opens it once (the
 * ACKs going back are ~1 % of the datagrams and carry no data).  Each
 * thread does one AEAD pass per byte, so the AEAD alone would let the
 * pair move min(single-core encrypt, single-core decrypt) bytes per
 * second: that is the "AEAD ceiling" sealed goodput is measured against
 * (target ≥ 0.7).  The one-thread combination 1 / (1/enc + 1/dec), a
 * thread doing both passes, is reported for reference only.  The same
 * comparison in CPU time (gbps_if_cpu_bound against the AEAD per CPU
 * second) holds up better on a machine shared with other work.
 *
 * Set-up: bench_seal_init makes a key pair per side; bulk.c opens its
 * endpoints with bench_seal_settings and makes each side a peer of the
 * other (bench_seal_peer): the sender knows the receiver's UDP address,
 * the receiver learns the sender's from its handshake.  The handshake
 * completes before the connection is established, so it is not in the
 * goodput window.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define NCIPHERS 2 /* indexed by tcpu_cipher */

/* ------------------------------------------------------------- set-up */

int bench_seal_init(bench_seal *bs, tcpu_cipher cipher) {
  memset(bs, 0, sizeof(*bs));
  bs->cipher = cipher;
  for (int side = 0; side < 2; side++)
    if (tcpu_keypair(bs->priv[side], bs->pub[side]) != 0)
      return -1;
  return 0;
}

void bench_seal_settings(const bench_seal *bs, int side, tcpu_settings *s) {
  s->mode = TCPU_MODE_SEALED;
  s->cipher = bs->cipher;
  memcpy(s->private_key, bs->priv[side], TCPU_KEY_LEN);
}

int bench_seal_peer(const bench_seal *bs, int side, tcpu_uv_endpoint *uvep,
                    const struct sockaddr *endpoint) {
  tcpu_addr addr;
  int rc;

  if (endpoint != NULL &&
      (rc = tcpu_uv_addr_from_sockaddr(&addr, endpoint)) != 0)
    return rc;
  rc = tcpu_peer_add(uvep->ep, bs->pub[side == BENCH_SENDER], NULL,
                     endpoint != NULL ? &addr : NULL, NULL, now_ns());
  tcpu_uv_endpoint_flush(uvep);
  return rc;
}

void bench_seal_report(const char *key, const tcpu_endpoint_stats *st) {
  js_open(key);
  js_int("handshakes_initiated", st->handshakes_initiated);
  js_int("handshakes_done", st->handshakes_done);
  js_int("handshakes_failed", st->handshakes_failed);
  js_int("auth_failures", st->auth_failures);
  js_int("replays_dropped", st->replays_dropped);
  js_int("drop_no_session", st->drop_no_session);
  js_int("keepalives_sent", st->keepalives_sent);
  js_close();
}

/* ------------------------------------------------------------ section */

/* The ceiling of a two-thread pipeline: the slower AEAD direction. */
static double ceiling(double enc, double dec) { return enc < dec ? enc : dec; }

/* The one-thread combination: a thread that seals and opens every byte. */
static double one_thread(double enc, double dec) {
  return enc > 0 && dec > 0 ? 1 / (1 / enc + 1 / dec) : 0;
}

static aead_result aead_median(const char *key, const aead_result *r,
                               unsigned n) {
  double v[4][BENCH_MAX_REPS];
  aead_result m = {1, 0, 0, 0, 0};

  for (unsigned i = 0; i < n; i++) {
    v[0][i] = r[i].enc_gbps;
    v[1][i] = r[i].dec_gbps;
    v[2][i] = r[i].enc_gbps_cpu;
    v[3][i] = r[i].dec_gbps_cpu;
    m.ok = m.ok && r[i].ok;
  }
  m.enc_gbps = median(v[0], n);
  m.dec_gbps = median(v[1], n);
  m.enc_gbps_cpu = median(v[2], n);
  m.dec_gbps_cpu = median(v[3], n);
  js_open(key);
  js_bool("all_ok", m.ok);
  js_num("encrypt_gbps", m.enc_gbps);
  js_num("decrypt_gbps", m.dec_gbps);
  js_num("encrypt_gbps_cpu", m.enc_gbps_cpu);
  js_num("decrypt_gbps_cpu", m.dec_gbps_cpu);
  js_num("ceiling_two_threads_gbps", ceiling(m.enc_gbps, m.dec_gbps));
  js_num("ceiling_two_threads_gbps_cpu",
         ceiling(m.enc_gbps_cpu, m.dec_gbps_cpu));
  js_num("one_thread_enc_plus_dec_gbps", one_thread(m.enc_gbps, m.dec_gbps));
  js_close();
  return m;
}

static void ratios(const char *key, const bulk_result *plain,
                   const bulk_result *s, const aead_result *a,
                   const aead_result *seg) {
  /* gbps is bits per ns: 8 / gbps is ns per byte. */
  double extra = s->cpu_ns_per_b - plain->cpu_ns_per_b;
  double aead_ns = a->enc_gbps_cpu > 0 && a->dec_gbps_cpu > 0
                       ? 8 / a->enc_gbps_cpu + 8 / a->dec_gbps_cpu
                       : 0;
  js_open(key);
  js_num("sealed_vs_plain", ratio(s->gbps, plain->gbps));
  js_num("sealed_vs_aead", ratio(s->gbps, ceiling(a->enc_gbps, a->dec_gbps)));
  js_num("sealed_vs_aead_encrypt", ratio(s->gbps, a->enc_gbps));
  js_num("sealed_vs_aead_one_thread",
         ratio(s->gbps, one_thread(a->enc_gbps, a->dec_gbps)));
  js_num("sealed_vs_aead_if_cpu_bound",
         ratio(s->gbps_cpu, ceiling(a->enc_gbps_cpu, a->dec_gbps_cpu)));
  js_num("sealed_vs_aead_segment_bytes",
         ratio(s->gbps, ceiling(seg->enc_gbps, seg->dec_gbps)));
  js_num("sealed_vs_aead_segment_bytes_if_cpu_bound",
         ratio(s->gbps_cpu, ceiling(seg->enc_gbps_cpu, seg->dec_gbps_cpu)));
  js_num("sealed_vs_plain_if_cpu_bound", ratio(s->gbps_cpu, plain->gbps_cpu));
  js_num("extra_cpu_ns_per_byte", extra);
  js_num("aead_cpu_ns_per_byte_enc_plus_dec", aead_ns);
  js_num("extra_cpu_vs_aead_cpu", ratio(extra, aead_ns));
  js_close();
}

sealed_result bench_sealed(const char *key) {
  static aead_result aead[NCIPHERS][BENCH_MAX_REPS];
  static aead_result aead_seg[NCIPHERS][BENCH_MAX_REPS];
  static bulk_result plain[BENCH_MAX_REPS], sealed[NCIPHERS][BENCH_MAX_REPS];
  sealed_result out;
  bulk_result pm, sm[NCIPHERS] = {{0, 0, 0, 0}};
  aead_result am[NCIPHERS] = {{0, 0, 0, 0, 0}};
  aead_result asm_[NCIPHERS] = {{0, 0, 0, 0, 0}};
  unsigned n = opts.bulk_reps;
  char name[48];

  memset(&out, 0, sizeof(out));
  memset(aead, 0, sizeof(aead));
  memset(aead_seg, 0, sizeof(aead_seg));
  memset(plain, 0, sizeof(plain));
  memset(sealed, 0, sizeof(sealed));
  out.ran[TCPU_CIPHER_CHACHAPOLY] = 1;
  out.ran[TCPU_CIPHER_AESGCM] =
      sodium_init() >= 0 && crypto_aead_aes256gcm_is_available();

  js_open(key);
  js_str("note",
         "bulk: one connection over loopback, sender and receiver on two "
         "threads (CPU 0, CPU 1), each doing one AEAD pass per byte (seal, "
         "open); aead: libsodium alone, one thread on CPU 0, 1400-byte "
         "messages (aead_*_segment_bytes: 1408, the plaintext of a full "
         "sealed segment), 16-byte AD, fresh nonce each. sealed_vs_aead = sealed "
         "goodput / min(encrypt, decrypt) single-core AEAD speed (the "
         "ceiling of the two-thread pipeline; target >= 0.7); "
         "*_if_cpu_bound: the same in CPU time (bytes per busier-thread "
         "CPU second against AEAD bytes per CPU second); the one-thread "
         "enc+dec combination is for reference. All kinds interleaved, "
         "reps times; \"median\" holds the median of each figure");
  js_num("seconds_per_run", opts.bulk_s);
  js_int("reps", n);
  js_bool("aesgcm_available", out.ran[TCPU_CIPHER_AESGCM]);
  for (unsigned i = 0; i < n; i++) {
    snprintf(name, sizeof(name), "run%u", i + 1);
    js_open(name);
    for (int c = 0; c < NCIPHERS; c++) {
      snprintf(name, sizeof(name), "aead_%s",
               bench_cipher_name((tcpu_cipher)c));
      aead[c][i] = bench_aead(name, (tcpu_cipher)c, AEAD_MSG_BYTES);
      snprintf(name, sizeof(name), "aead_%s_segment_bytes",
               bench_cipher_name((tcpu_cipher)c));
      aead_seg[c][i] = bench_aead(name, (tcpu_cipher)c, AEAD_SEG_BYTES);
    }
    plain[i] = bench_bulk_libtcpu("plain", 0, 0, 0);
    for (int c = 0; c < NCIPHERS; c++) {
      bench_seal bs;
      if (!out.ran[c])
        continue;
      snprintf(name, sizeof(name), "sealed_%s",
               bench_cipher_name((tcpu_cipher)c));
      if (bench_seal_init(&bs, (tcpu_cipher)c) == 0)
        sealed[c][i] = bench_bulk_libtcpu_sealed(name, &bs);
      sodium_memzero(&bs, sizeof(bs));
    }
    js_close();
  }

  js_open("median");
  pm = median_of("plain", plain, n);
  for (int c = 0; c < NCIPHERS; c++) {
    if (!out.ran[c])
      continue;
    snprintf(name, sizeof(name), "sealed_%s",
             bench_cipher_name((tcpu_cipher)c));
    sm[c] = median_of(name, sealed[c], n);
    snprintf(name, sizeof(name), "aead_%s", bench_cipher_name((tcpu_cipher)c));
    am[c] = aead_median(name, aead[c], n);
    snprintf(name, sizeof(name), "aead_%s_segment_bytes",
             bench_cipher_name((tcpu_cipher)c));
    asm_[c] = aead_median(name, aead_seg[c], n);
  }
  js_close();

  js_open("ratios");
  js_num("target_sealed_vs_aead", SEALED_TARGET_VS_AEAD);
  for (int c = 0; c < NCIPHERS; c++) {
    if (!out.ran[c])
      continue;
    ratios(bench_cipher_name((tcpu_cipher)c), &pm, &sm[c], &am[c], &asm_[c]);
    out.vs_plain[c] = ratio(sm[c].gbps, pm.gbps);
    out.vs_aead[c] = ratio(sm[c].gbps, ceiling(am[c].enc_gbps, am[c].dec_gbps));
  }
  js_close();
  js_close();
  return out;
}
