// Sequences of C API calls, decoded from the input, with ids and handles
// that are often wrong: every call must return a status, never crash or
// leak, and a destroyed handle is never used (the harness keeps that rule,
// as the API documents it).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "salescycle/c.h"

namespace {

struct Input {
  const uint8_t* data;
  size_t size;
  uint8_t Byte() { return size ? (--size, *data++) : 0; }
  uint32_t U32() { return Byte() | (Byte() << 8) | (uint32_t{Byte()} << 16); }
  int64_t Time() { return static_cast<int64_t>(U32()) * 97; }
};

int32_t Observe(void* user_data, uint32_t, uint32_t, uint32_t, uint32_t, int64_t, int32_t) {
  // Fails now and then, as a binding's callback may.
  return (++*static_cast<int*>(user_data) % 7) == 0 ? 1 : 0;
}

sc_machine_t* Load(const char* path) {
  sc_machine_t* m = nullptr;
  if (sc_machine_from_file(&m, path, nullptr, nullptr) != SC_OK) std::abort();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // cycle9-guarded's bare table and guard, and b2b's entry stages,
  // activities, last-activity clock, loss reasons, reopening and cycles.
  static sc_machine_t* const machines[2] = {
      Load(SC_MACHINES_DIR "/cycle9_guarded.textproto"),
      Load(SC_MACHINES_DIR "/b2b.textproto")};
  Input in{data, size};
  sc_machine_t* machine = machines[in.Byte() & 1];
  char* err = nullptr;
  sc_options_t* options = sc_options_create();
  sc_options_set_history_limit(options, in.Byte() % 4, &err);
  sc_options_set_analytics(options, in.Byte() & 1, in.Byte() % 4, &err);
  sc_pipeline_t* p = nullptr;
  sc_pipeline_create(&p, machine, options, &err);
  sc_options_destroy(options);
  int calls = 0;
  uint64_t token = 0;
  std::vector<sc_event_record> batch;
  std::vector<sc_stage_record> moves;
  while (in.size > 0 && p != nullptr) {
    uint32_t deal = 0;
    int32_t outcome = 0;
    uint64_t a = 0, r = 0;
    uint8_t* bytes = nullptr;
    size_t len = 0;
    switch (in.Byte() % 21) {
      case 0: sc_pipeline_add(&deal, p, in.Time(), &err); break;
      case 1: sc_pipeline_add_with_id(&deal, p, in.U32() % 16, in.Time(), &err); break;
      case 2: sc_pipeline_remove(p, in.U32() % 64, &err); break;
      case 3: sc_pipeline_fire(&outcome, p, in.U32() % 64, in.Byte() % 20, in.Time(), &err); break;
      case 4: sc_pipeline_set_int64(p, in.U32() % 64, in.Byte() % 2, in.U32(), &err); break;
      case 5: {
        batch.resize(in.Byte() % 32);
        for (auto& rec : batch) rec = {in.U32() % 70, static_cast<uint32_t>(in.Byte() % 13), in.Time()};
        if (in.Byte() & 1) {
          sc_pipeline_apply(&a, &r, p, batch.data(), batch.size(), &err);
        } else {
          sc_pipeline_apply_parallel(&a, &r, nullptr, p, batch.data(), batch.size(), in.Byte() % 4, &err);
        }
        break;
      }
      case 6: sc_pipeline_advance_to(&a, p, in.Time(), &err); break;
      case 7: sc_pipeline_add_observer(&token, p, Observe, Observe, &calls, &err); break;
      case 8: sc_pipeline_remove_observer(p, in.Byte() % 4, &err); break;
      case 9:
        if (sc_pipeline_save(&bytes, &len, p, &err) == SC_OK) {
          if (len > 0 && in.Byte() & 1) bytes[in.U32() % len] ^= in.Byte();
          // Now and then within limits of the input's choosing, which may
          // refuse what it just saved.
          sc_limits_t* limits = nullptr;
          if (in.Byte() & 1) {
            limits = sc_limits_create();
            sc_limits_set(limits, in.Byte() % 12, in.U32() % 256, &err);
          }
          sc_pipeline_t* loaded = nullptr;
          if (sc_pipeline_load_with_limits(&loaded, machine, bytes, len, limits,
                                           &err) == SC_OK) {
            sc_pipeline_destroy(p);
            p = loaded;  // observers stay with the old handle
          }
          sc_limits_destroy(limits);
          sc_free(bytes);
        }
        break;
      case 10:
        if (sc_pipeline_funnel(&bytes, &len, p, in.Byte() % 6, in.Byte() & 1 ? "budget" : nullptr,
                               in.Byte() & 1, in.Time(), &err) == SC_OK) {
          sc_free(bytes);
        }
        break;
      case 12: sc_pipeline_add_in_stage(&deal, p, in.Byte() % 12, in.Time(), &err); break;
      case 13:
        sc_pipeline_move_to(&outcome, p, in.U32() % 64, in.Byte() % 12, in.Time(), &err);
        break;
      case 14: {
        moves.clear();
        for (int n = in.Byte() % 8; n > 0; --n) {
          moves.push_back(sc_stage_record{in.U32() % 64, in.Byte() % 12u, in.Time()});
        }
        sc_pipeline_apply_moves(&a, &r, p, moves.data(), moves.size(), &err);
        break;
      }
      case 15: sc_pipeline_reopen(&outcome, p, in.U32() % 64, in.Time(), &err); break;
      case 16: {
        int64_t last = 0;
        uint32_t closed_from = 0, cycle = 0;
        char* reason = nullptr;
        const uint32_t d = in.U32() % 64;
        sc_pipeline_deal_lifecycle(&last, &closed_from, &cycle, p, d, &err);
        if (sc_pipeline_loss_reason(&reason, &len, p, d, &err) == SC_OK) sc_free(reason);
        break;
      }
      case 17: {
        static const char* const kReasons[] = {"Price", "", "No decision"};
        const char* v = kReasons[in.Byte() % 3];
        sc_pipeline_set_string(p, in.U32() % 64, in.Byte() % 9, v, std::strlen(v), &err);
        break;
      }
      case 18: {
        // Partitioning with offsets, counts and group numbers out of order
        // or past the data: a status, never a read past `keys`.
        static const uint8_t keys[16] = {'a', 'c', 'm', 'e', 0, 0xff, 'x'};
        uint64_t offsets[5];
        uint32_t groups[4], first = 0, end = 0;
        const size_t count = in.Byte() % 5;
        for (size_t i = 0; i <= count; ++i) offsets[i] = in.Byte() % 20;
        const uint32_t num_groups = in.U32() % 40000;
        sc_key_groups(groups, keys, in.Byte() % 17, offsets, count, num_groups, &err);
        sc_key_group_owner(&first, in.U32() % 40000, num_groups, in.U32() % 40000, &err);
        sc_key_group_range(&first, &end, in.U32() % 40000, in.U32() % 40000, num_groups, &err);
        // The bulk calls take the same columns, and deals that may be gone.
        uint32_t deals[4];
        const int64_t times[4] = {in.Time(), in.Time(), in.Time(), in.Time()};
        const uint32_t events[4] = {in.Byte() % 13u, in.Byte() % 13u, 0, 1};
        if (sc_pipeline_add_keys(deals, nullptr, p, keys, in.Byte() % 17, offsets, count, times,
                                 &err) == SC_OK) {
          sc_pipeline_set_int64_column(p, in.Byte() % 9, deals, times, count, &err);
          sc_pipeline_set_string_column(p, in.Byte() % 9, deals, keys, in.Byte() % 17, offsets,
                                        count, &err);
          sc_pipeline_apply_columns(&a, &r, p, deals, events, times, count, &err);
        }
        sc_pipeline_find_keys(deals, p, keys, in.Byte() % 17, offsets, count, &err);
        break;
      }
      case 19: {
        // An event file's text: the tool's reader behind the C API.
        const int32_t format = in.Byte() % 4;
        const uint8_t strict = in.Byte() & 1;
        const size_t n = std::min<size_t>(in.Byte(), in.size);
        const char* text = reinterpret_cast<const char*>(in.data);
        uint64_t counts[SC_INGEST_COUNTS];
        char* bad = nullptr;
        if (sc_pipeline_ingest(counts, SC_INGEST_COUNTS, &bad, p, text, n, format, strict,
                               &err) == SC_OK) {
          sc_free(bad);
        }
        in.data += n;
        in.size -= n;
        break;
      }
      case 20: {
        // Rescaling: a plan into a buffer of any size, the deals of some key
        // groups (topped up with deals that may be gone or repeated), a part
        // of them, and the part joined alone or after itself.
        uint32_t plan[5 * 8];
        size_t parts = 0;
        const uint32_t num_groups = in.U32() % 40000;
        sc_key_group_rescale_plan(in.Byte() & 1 ? plan : nullptr, in.Byte() % 9, &parts,
                                  num_groups, in.U32() % 64, in.U32() % 64, &err);
        uint32_t deals[8];
        size_t n = 0;
        const uint32_t first = in.Byte() % 20;
        if (sc_pipeline_deals_in_key_groups(deals, 8, &n, p, 16, first, first + in.Byte() % 20,
                                            &err) != SC_OK) {
          n = 0;
        }
        for (size_t i = n; i < 8; ++i) deals[i] = in.U32() % 70;
        if (sc_pipeline_save_part(&bytes, &len, p, deals, std::min<size_t>(8, n + in.Byte() % 3),
                                  in.Byte() & 1, &err) == SC_OK) {
          const uint8_t* part[2] = {bytes, bytes};
          const size_t lens[2] = {len, len};
          sc_pipeline_t* joined = nullptr;
          if (sc_pipeline_load_parts(&joined, machine, part, lens, 1 + (in.Byte() & 1), nullptr,
                                     &err) == SC_OK) {
            sc_pipeline_destroy(joined);
          }
          sc_free(bytes);
        }
        break;
      }
      case 11: {
        uint64_t counts[9];
        sc_pipeline_stage_counts(counts, in.Byte() % 10, p, &err);
        break;
      }
    }
  }
  sc_pipeline_destroy(p);
  sc_free(err);
  return 0;
}
