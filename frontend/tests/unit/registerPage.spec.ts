import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { authApi } from '@/api/auth'
import { ApiError } from '@/api/errors'
import RegisterPage from '@/pages/RegisterPage.vue'
import { SIGN_IN_AFTER_REGISTRATION_FAILED } from '@/stores/auth'
import { tokenPair } from './helpers'

const router = createRouter({
  history: createMemoryHistory(),
  routes: [
    { path: '/dashboard', name: 'dashboard', component: { template: '<div/>' } },
    { path: '/:any(.*)*', name: 'any', component: { template: '<div/>' } },
  ],
})

async function render(over: { first_account_admin?: boolean; registration_requires_approval?: boolean } = {}) {
  vi.spyOn(authApi, 'options').mockResolvedValue({
    registration_open: true, password_min_length: 8, first_account_admin: false, registration_requires_approval: false,
    ...over,
  })
  const pinia = createPinia()
  setActivePinia(pinia)
  const w = mount(RegisterPage, { global: { plugins: [pinia, router], stubs: { RouterLink: { template: '<a><slot /></a>' } } } })
  await flushPromises()
  return w
}

async function fill(w: Awaited<ReturnType<typeof render>>): Promise<void> {
  const inputs = w.findAll('input')
  await inputs[0]!.setValue('Ann')
  await inputs[1]!.setValue('ann@example.com')
  await inputs[2]!.setValue('Quiet-Harbor-2041')
  await inputs[3]!.setValue('Quiet-Harbor-2041')
  await w.find('form').trigger('submit')
  await flushPromises()
}

describe('register page', () => {
  beforeEach(() => vi.restoreAllMocks())

  it('says the first account becomes the administrator only while no account exists', async () => {
    expect((await render({ first_account_admin: true })).text()).toContain('The first account becomes the administrator.')
    expect((await render()).text()).not.toContain('administrator')
  })

  it('says when new accounts wait for approval', async () => {
    expect((await render({ registration_requires_approval: true })).text()).toContain('An administrator approves new accounts')
  })

  it('signs in after a registration that is ready and opens the dashboard', async () => {
    const w = await render()
    vi.spyOn(authApi, 'register').mockResolvedValue({ status: 'created', message: 'ready' })
    const login = vi.spyOn(authApi, 'login').mockResolvedValue(tokenPair())
    await fill(w)
    expect(login).toHaveBeenCalledWith('ann@example.com', 'Quiet-Harbor-2041')
    await flushPromises()
    expect(router.currentRoute.value.name).toBe('dashboard')
  })

  it('shows the waiting message and does not sign in when approval is required', async () => {
    await router.replace('/register')
    const w = await render({ registration_requires_approval: true })
    vi.spyOn(authApi, 'register').mockResolvedValue({ status: 'pending_approval', message: 'An administrator approves new accounts.' })
    const login = vi.spyOn(authApi, 'login')
    await fill(w)
    expect(login).not.toHaveBeenCalled()
    expect(w.find('[data-testid="registration-pending"]').text()).toContain('An administrator approves new accounts.')
    expect(w.find('form').exists()).toBe(false)
    expect(router.currentRoute.value.path).toBe('/register')
  })

  it('explains a failed sign-in after registration without saying whether the email had an account', async () => {
    const w = await render()
    vi.spyOn(authApi, 'register').mockResolvedValue({ status: 'created', message: 'ready' })
    vi.spyOn(authApi, 'login').mockRejectedValue(new ApiError(401, 'invalid_credentials', 'Incorrect email or password'))
    await fill(w)
    expect(w.find('[role="alert"]').text()).toContain(SIGN_IN_AFTER_REGISTRATION_FAILED)
  })
})
