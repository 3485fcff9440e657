// One register function per binding family; native/addon.cc calls them all.
#pragma once
#include <napi.h>

namespace satrnn::napi {
void register_engine(Napi::Env env, Napi::Object exports);  // run: dynamics + readout chunks
void register_train(Napi::Env env, Napi::Object exports);   // trainEpoch, evalBpc, createFastWorkspace
void register_math(Napi::Env env, Napi::Object exports);    // mathF32, mathF64, checksumF32
void register_info(Napi::Env env, Napi::Object exports);    // info
}  // namespace satrnn::napi
