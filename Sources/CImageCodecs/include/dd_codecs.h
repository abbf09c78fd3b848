#ifndef DD_CODECS_H
#define DD_CODECS_H
/// C shims over libjpeg(-turbo), libpng and libwebp that turn every codec failure into a return code.
#endif
