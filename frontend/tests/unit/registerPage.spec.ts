import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { authApi } from '@/api/auth'
import RegisterPage from '@/pages/RegisterPage.vue'

const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', name: 'any', component: { template: '<div/>' } }] })

async function render(firstAccountAdmin: boolean) {
  vi.spyOn(authApi, 'options').mockResolvedValue({ registration_open: true, password_min_length: 8, first_account_admin: firstAccountAdmin })
  const pinia = createPinia()
  setActivePinia(pinia)
  const w = mount(RegisterPage, { global: { plugins: [pinia, router], stubs: { RouterLink: { template: '<a><slot /></a>' } } } })
  await flushPromises()
  return w
}

describe('register page', () => {
  beforeEach(() => vi.restoreAllMocks())

  it('says the first account becomes the administrator only while no account exists', async () => {
    expect((await render(true)).text()).toContain('The first account becomes the administrator.')
    expect((await render(false)).text()).not.toContain('administrator')
  })
})
