/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vec.h - a growing array: @v holds @cap elements, @n of them used.
 */
#ifndef ZH_VEC_H
#define ZH_VEC_H

#include <errno.h>
#include <stdlib.h>

/* Room for one more element at v[n]: doubles @cap (from @first) when the
 * array is full. 0, or -ENOMEM with @v and @cap as they were. */
#define zh_vec_room(v, n, cap, first)                                        \
	({                                                                   \
		int err_ = 0;                                                \
		if ((n) == (cap)) {                                          \
			size_t c_ = (cap) ? (cap)*2 : (first);               \
			__typeof__(v) p_ = realloc((v), c_ * sizeof(*(v)));  \
			if (p_) {                                            \
				(v) = p_;                                    \
				(cap) = c_;                                  \
			} else {                                             \
				err_ = -ENOMEM;                              \
			}                                                    \
		}                                                            \
		err_;                                                        \
	})

#endif /* ZH_VEC_H */
