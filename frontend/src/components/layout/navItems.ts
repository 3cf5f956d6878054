import type { Component } from 'vue'
import {
  BookOpenIcon, ChartBarIcon, ChatBubbleLeftRightIcon, Cog6ToothIcon, CpuChipIcon, FolderIcon, HomeIcon, ShieldCheckIcon,
} from '@heroicons/vue/24/outline'

export interface NavItem {
  name: string
  label: string
  icon: Component
  adminOnly?: boolean
}

export const NAV_ITEMS: NavItem[] = [
  { name: 'dashboard', label: 'Dashboard', icon: HomeIcon },
  { name: 'assistants', label: 'Assistants', icon: CpuChipIcon },
  { name: 'chat', label: 'Chat', icon: ChatBubbleLeftRightIcon },
  { name: 'files', label: 'Files', icon: FolderIcon },
  { name: 'knowledge', label: 'Knowledge', icon: BookOpenIcon },
  { name: 'usage', label: 'Usage', icon: ChartBarIcon },
  { name: 'settings', label: 'Settings', icon: Cog6ToothIcon },
  { name: 'admin', label: 'Admin', icon: ShieldCheckIcon, adminOnly: true },
]
