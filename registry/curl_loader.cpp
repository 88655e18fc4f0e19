// libcurl loaded on first use instead of at start-up. libcurl.so.4 brings some thirty shared
// libraries with it (TLS, Kerberos, LDAP, SSH, IDN, ...): mapping and relocating them was most
// of the start-up time of every mkimg command, although only the registry client needs them.
// mkimg is therefore not linked with libcurl: the curl functions http_client.cpp calls are
// defined here and forward to libcurl.so.4, opened with dlopen() by the first of them. When it
// cannot be opened the call throws mkimg::Error naming the library and dlerror()'s reason.
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>  // std::call_once
#include <string>

#include "common/error.h"

namespace mkimg::registry {
namespace {

constexpr const char* kLibcurl = "libcurl.so.4";

struct Curl {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  void (*free)(void*);
  time_t (*getdate)(const char*, const time_t*);
  CURLU* (*url)();
  void (*url_cleanup)(CURLU*);
  CURLUcode (*url_get)(CURLU*, CURLUPart, char**, unsigned int);
  CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int);
};

template <typename F>
void bind(void* lib, const char* name, F& out) {
  void* sym = ::dlsym(lib, name);
  if (!sym) throw Error(describe("load", std::string(kLibcurl) + " " + name, ::dlerror()));
  out = reinterpret_cast<F>(sym);
}

Curl load() {
  void* lib = ::dlopen(kLibcurl, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    throw Error(describe("load", kLibcurl, why ? why : "dlopen failed"));
  }
  Curl c{};
  bind(lib, "curl_global_init", c.global_init);
  bind(lib, "curl_easy_init", c.easy_init);
  bind(lib, "curl_easy_cleanup", c.easy_cleanup);
  bind(lib, "curl_easy_reset", c.easy_reset);
  bind(lib, "curl_easy_perform", c.easy_perform);
  bind(lib, "curl_easy_setopt", c.easy_setopt);
  bind(lib, "curl_easy_strerror", c.easy_strerror);
  bind(lib, "curl_slist_append", c.slist_append);
  bind(lib, "curl_slist_free_all", c.slist_free_all);
  bind(lib, "curl_free", c.free);
  bind(lib, "curl_getdate", c.getdate);
  bind(lib, "curl_url", c.url);
  bind(lib, "curl_url_cleanup", c.url_cleanup);
  bind(lib, "curl_url_get", c.url_get);
  bind(lib, "curl_url_set", c.url_set);
  return c;  // the library stays loaded for the life of the process
}

/// The loaded library; throws when it cannot be loaded (and tries again on the next call).
const Curl& curl() {
  static std::once_flag once;  // not set by a call that throws
  static Curl loaded{};
  std::call_once(once, [] { loaded = load(); });
  return loaded;
}

}  // namespace
}  // namespace mkimg::registry

using mkimg::registry::curl;

extern "C" {

CURLcode curl_global_init(long flags) { return curl().global_init(flags); }
CURL* curl_easy_init() { return curl().easy_init(); }
void curl_easy_cleanup(CURL* handle) {
  if (handle) curl().easy_cleanup(handle);
}
void curl_easy_reset(CURL* handle) { curl().easy_reset(handle); }
CURLcode curl_easy_perform(CURL* handle) { return curl().easy_perform(handle); }

// The one argument is read with the type libcurl itself reads for the option's range. The
// signature is curl.h's; va_start after an enum parameter is what libcurl's own definition does
// (the enum's type is int), but clang warns about it.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wvarargs"
#endif
CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    long v = va_arg(ap, long);
    rc = curl().easy_setopt(handle, option, v);
  } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
    void* v = va_arg(ap, void*);
    rc = curl().easy_setopt(handle, option, v);
  } else if (option < CURLOPTTYPE_OFF_T) {
    using Function = void (*)();
    Function v = va_arg(ap, Function);
    rc = curl().easy_setopt(handle, option, v);
  } else if (option < CURLOPTTYPE_BLOB) {
    curl_off_t v = va_arg(ap, curl_off_t);
    rc = curl().easy_setopt(handle, option, v);
  } else {
    void* v = va_arg(ap, void*);
    rc = curl().easy_setopt(handle, option, v);
  }
  va_end(ap);
  return rc;
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

const char* curl_easy_strerror(CURLcode code) { return curl().easy_strerror(code); }
curl_slist* curl_slist_append(curl_slist* list, const char* s) {
  return curl().slist_append(list, s);
}
void curl_slist_free_all(curl_slist* list) {
  if (list) curl().slist_free_all(list);
}
void curl_free(void* p) {
  if (p) curl().free(p);
}
time_t curl_getdate(const char* p, const time_t* unused) { return curl().getdate(p, unused); }
CURLU* curl_url() { return curl().url(); }
void curl_url_cleanup(CURLU* handle) {
  if (handle) curl().url_cleanup(handle);
}
CURLUcode curl_url_get(CURLU* handle, CURLUPart what, char** part, unsigned int flags) {
  return curl().url_get(handle, what, part, flags);
}
CURLUcode curl_url_set(CURLU* handle, CURLUPart what, const char* part, unsigned int flags) {
  return curl().url_set(handle, what, part, flags);
}

}  // extern "C"
