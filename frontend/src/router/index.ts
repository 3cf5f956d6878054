import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'

declare module 'vue-router' {
  interface RouteMeta {
    /** Sign-in pages: reachable signed out only. */
    guest?: boolean
    /** Reachable signed in or out (one-time links). */
    public?: boolean
    admin?: boolean
    title?: string
  }
}

const AppShell = () => import('@/components/layout/AppShell.vue')

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/pages/LoginPage.vue'), meta: { guest: true, title: 'Sign in' } },
  { path: '/account-link/:token', name: 'account-link', component: () => import('@/pages/AccountLinkPage.vue'), props: true, meta: { public: true, title: 'Account link' } },
  { path: '/register', name: 'register', component: () => import('@/pages/RegisterPage.vue'), meta: { guest: true, title: 'Create account' } },
  {
    path: '/',
    component: AppShell,
    children: [
      { path: '', name: 'dashboard', component: () => import('@/pages/DashboardPage.vue'), meta: { title: 'Dashboard' } },
      { path: 'assistants', name: 'assistants', component: () => import('@/pages/AssistantsPage.vue'), meta: { title: 'Assistants' } },
      { path: 'assistants/new', name: 'assistant-new', component: () => import('@/pages/AssistantEditPage.vue'), meta: { title: 'New assistant' } },
      { path: 'assistants/:id', name: 'assistant-edit', component: () => import('@/pages/AssistantEditPage.vue'), props: true, meta: { title: 'Edit assistant' } },
      { path: 'chat/:conversationId?', name: 'chat', component: () => import('@/pages/ChatPage.vue'), props: true, meta: { title: 'Chat' } },
      { path: 'files', name: 'files', component: () => import('@/pages/FilesPage.vue'), meta: { title: 'Files' } },
      { path: 'knowledge', name: 'knowledge', component: () => import('@/pages/KnowledgePage.vue'), meta: { title: 'Knowledge' } },
      { path: 'usage', name: 'usage', component: () => import('@/pages/UsagePage.vue'), meta: { title: 'Usage' } },
      { path: 'settings', name: 'settings', component: () => import('@/pages/SettingsPage.vue'), meta: { title: 'Settings' } },
      { path: 'admin', name: 'admin', component: () => import('@/pages/AdminPage.vue'), meta: { title: 'Admin', admin: true } },
      { path: 'admin/providers', name: 'admin-providers', component: () => import('@/pages/AdminProvidersPage.vue'), meta: { title: 'Providers', admin: true } },
      { path: 'admin/prices', name: 'admin-prices', component: () => import('@/pages/AdminPricesPage.vue'), meta: { title: 'Prices', admin: true } },
      { path: 'admin/budgets', name: 'admin-budgets', component: () => import('@/pages/AdminBudgetsPage.vue'), meta: { title: 'Budgets', admin: true } },
      { path: 'admin/log', name: 'admin-log', component: () => import('@/pages/AdminLogPage.vue'), meta: { title: 'Admin log', admin: true } },
      { path: ':rest(.*)*', name: 'not-found', component: () => import('@/pages/NotFoundPage.vue'), meta: { title: 'Not found' } },
    ],
  },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  await auth.init()
  if (to.meta.public) return true
  if (to.meta.guest) {
    return auth.isAuthenticated ? { name: 'dashboard' } : true
  }
  if (!auth.isAuthenticated) {
    return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
  }
  if (to.meta.admin && !auth.isAdmin) return { name: 'dashboard' }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · Agent Creator` : 'Agent Creator'
})
