// The addon's entry point: registration only. Each binding family lives in
// native/napi/bind_<family>.cc and parses its arguments with napi/args.h.
#include <napi.h>

#include "napi/bindings.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  satrnn::napi::register_info(env, exports);
  satrnn::napi::register_engine(env, exports);
  satrnn::napi::register_train(env, exports);
  satrnn::napi::register_math(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(satrnn, Init)
