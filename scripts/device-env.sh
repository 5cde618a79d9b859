# Sourced at the start of every device call (GPU machine): Vulkan loader from .gl/, our Node binary
# and Dawn from .carry/dev/ (made by scripts/pack-device.mjs). Then: /tmp/node .carry/dev/bench.mjs ...
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
xz -dc .carry/dev/node.xz > /tmp/node && chmod +x /tmp/node
[ -f .carry/dev/node_modules/webgpu/dist/linux-x64/dawn.node ] || xz -dk .carry/dev/node_modules/webgpu/dist/linux-x64/dawn.node.xz
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
