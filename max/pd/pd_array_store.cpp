#include "pd_array_store.h"

#include <algorithm>

std::string array_name(const std::string& prefix, const std::string& stem) { return prefix + "-" + stem; }

PdArrayStore::PdArrayStore(const std::string& prefix, const std::vector<std::string>& stems) {
  bool first = true;
  for (const std::string& stem : stems) {
    const std::string name = array_name(prefix, stem);
    auto* array = reinterpret_cast<t_garray*>(pd_findbyclass(gensym(name.c_str()), garray_class));
    int size = 0;
    t_word* words = nullptr;
    if (array == nullptr || !garray_getfloatwords(array, &size, &words)) {
      if (missing_.empty()) missing_ = name;
      size = 0;
    }
    arrays_.push_back(array);
    words_.push_back(words);
    frames_ = first ? size : std::min<std::int64_t>(frames_, size);
    first = false;
  }
}

void PdArrayStore::redraw() {
  for (t_garray* array : arrays_)
    if (array != nullptr) garray_redraw(array);
}

void PdArrayStore::use_in_dsp() {
  for (t_garray* array : arrays_)
    if (array != nullptr) garray_usedindsp(array);
}
