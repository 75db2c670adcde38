// SPDX-License-Identifier: GPL-2.0

#include <drm/drm_atomic.h>
#include <drm/drm_crtc.h>
#include <drm/drm_debugfs.h>
#include <drm/drm_modeset_helper_vtables.h>

#ifdef CONFIG_DRM

__rust_helper struct drm_plane_state *
rust_helper_drm_atomic_get_new_plane_state(const struct drm_atomic_commit *state,
					   struct drm_plane *plane)
{
	return drm_atomic_get_new_plane_state(state, plane);
}

__rust_helper struct drm_plane_state *
rust_helper_drm_atomic_get_old_plane_state(const struct drm_atomic_commit *state,
					   struct drm_plane *plane)
{
	return drm_atomic_get_old_plane_state(state, plane);
}

__rust_helper struct drm_crtc_state *
rust_helper_drm_atomic_get_new_crtc_state(const struct drm_atomic_commit *state,
					  struct drm_crtc *crtc)
{
	return drm_atomic_get_new_crtc_state(state, crtc);
}

__rust_helper struct drm_crtc_state *
rust_helper_drm_atomic_get_old_crtc_state(const struct drm_atomic_commit *state,
					  struct drm_crtc *crtc)
{
	return drm_atomic_get_old_crtc_state(state, crtc);
}

__rust_helper bool
rust_helper_drm_atomic_crtc_needs_modeset(const struct drm_crtc_state *state)
{
	return drm_atomic_crtc_needs_modeset(state);
}

__rust_helper void
rust_helper_drm_plane_helper_add(struct drm_plane *plane,
				 const struct drm_plane_helper_funcs *funcs)
{
	drm_plane_helper_add(plane, funcs);
}

__rust_helper void
rust_helper_drm_crtc_helper_add(struct drm_crtc *crtc,
				const struct drm_crtc_helper_funcs *funcs)
{
	drm_crtc_helper_add(crtc, funcs);
}

__rust_helper void
rust_helper_drm_connector_helper_add(struct drm_connector *connector,
				     const struct drm_connector_helper_funcs *funcs)
{
	drm_connector_helper_add(connector, funcs);
}

__rust_helper u32 rust_helper_drm_crtc_mask(const struct drm_crtc *crtc)
{
	return drm_crtc_mask(crtc);
}

__rust_helper void rust_helper_drm_atomic_commit_put(struct drm_atomic_commit *state)
{
	drm_atomic_commit_put(state);
}

__rust_helper void
rust_helper_drm_debugfs_add_file(struct drm_device *dev, const char *name,
				 int (*show)(struct seq_file *, void *), void *data)
{
	drm_debugfs_add_file(dev, name, show, data);
}

/* The device of a file made by drm_debugfs_add_file(), from its seq_file. */
__rust_helper struct drm_device *rust_helper_drm_debugfs_entry_dev(struct seq_file *m)
{
	struct drm_debugfs_entry *entry = m->private;

	return entry->dev;
}

/* The data given to drm_debugfs_add_file() for the file of @m. */
__rust_helper void *rust_helper_drm_debugfs_entry_data(struct seq_file *m)
{
	struct drm_debugfs_entry *entry = m->private;

	return entry->file.data;
}

#endif /* CONFIG_DRM */
