/*
 * error.c — the core's TCPU_ERR_* codes as the UV_E* codes a TCP user of
 * libuv expects (the table in tcpu_uv.h).
 */
#include "uv/internal.h"

int tcpu_uv_translate_error(int err) {
  switch (err) {
  case TCPU_ERR_INVAL: return UV_EINVAL;
  case TCPU_ERR_NOMEM: return UV_ENOMEM;
  case TCPU_ERR_PROTO: return UV_EPROTO;
  case TCPU_ERR_TIMEDOUT: return UV_ETIMEDOUT;
  case TCPU_ERR_NOBUF: return UV_ENOBUFS;
  case TCPU_ERR_RESET: return UV_ECONNRESET;
  case TCPU_ERR_REFUSED: return UV_ECONNREFUSED;
  case TCPU_ERR_CALLBACK_FAILURE: return UV_EIO;
  case TCPU_ERR_STATE: return UV_EBUSY;
  case TCPU_ERR_ADDRINUSE: return UV_EADDRINUSE;
  case TCPU_ERR_AGAIN: return UV_EAGAIN;
  case TCPU_ERR_PIPE: return UV_EPIPE;
  case TCPU_ERR_ABORTED: return UV_ECONNABORTED;
  case TCPU_ERR_ADDRNOTAVAIL: return UV_EADDRNOTAVAIL;
  case TCPU_ERR_NOTCONN: return UV_ENOTCONN;
  default: return err;
  }
}
